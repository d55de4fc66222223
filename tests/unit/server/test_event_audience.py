"""Event audiences in the store: what each room sees of an event, the hall room's prev chain, paging."""

from queue_server.services import devices as D
from queue_server.services import queries as Q
from queue_server.services import tickets as T
from queue_server.services.context import Actor
from queue_server.services.events import hall_room, staff_room

KIOSK = Actor("device", "kiosk-1")


def test_a_print_job_goes_whole_to_its_station_and_without_its_document_to_staff(hall):
    D.send_command(hall, "kiosk-1", "printer", "print", {"document": {"blocks": [{"text": "王小娜"}]}}, KIOSK)
    ev = hall.publisher.published[-1]
    assert hall_room(hall.hall_id) not in ev["rooms"]
    station = Q.missed_events(hall, 0, {"station:kiosk-1"})["events"]
    staff = Q.missed_events(hall, 0, {staff_room(hall.hall_id)})["events"]
    public = Q.missed_events(hall, 0, {hall_room(hall.hall_id)})["events"]
    assert [e["payload"]["args"]["document"]["blocks"][0]["text"] for e in station] == ["王小娜"]
    assert [e["type"] for e in staff] == ["device_command"] and "args" not in staff[0]["payload"]
    assert all(e["type"] != "device_command" for e in public)


def test_public_events_chain_by_prev_across_private_ones(hall):
    queue = hall.config.queues[0].id
    T.issue_ticket(hall, T.IssueRequest(queue_id=queue), Actor("kiosk", "k"))
    D.send_command(hall, "kiosk-1", "printer", "print", {}, KIOSK)
    T.issue_ticket(hall, T.IssueRequest(queue_id=queue), Actor("kiosk", "k"))
    public = [e["payload"] for e in Q.missed_events(hall, 0, {hall_room(hall.hall_id)})["events"]]
    assert len(public) >= 2
    assert all(later["prev"] == earlier["seq"] for earlier, later in zip(public, public[1:], strict=False))


def test_a_room_that_sees_few_events_pages_on_from_where_the_scan_stopped(hall):
    queue = hall.config.queues[0].id
    for _ in range(5):
        T.issue_ticket(hall, T.IssueRequest(queue_id=queue), Actor("kiosk", "k"))
    D.send_command(hall, "kiosk-1", "printer", "print", {}, KIOSK)
    page = Q.missed_events(hall, 0, {"station:kiosk-1"}, limit=3)
    assert page["events"] == [] and page["complete"] is False and 0 < page["scanned_to"] < page["seq"]
    seen, after = [], 0
    while True:
        page = Q.missed_events(hall, after, {"station:kiosk-1"}, limit=3)
        seen += page["events"]
        if page["complete"]:
            break
        after = page["scanned_to"]
    assert [e["type"] for e in seen] == ["device_command"]
