import pytest

from queue_server.domain.errors import InvalidInput
from queue_server.services import devices as D
from queue_server.services.context import Actor

AGENT = Actor("device", "kiosk-1")
CARD = {"id_number": "11010519491231002X", "name": "王小娜", "birth_date": "1949-12-31"}


def test_card_read_is_taken_once_and_published_masked(hall):
    first = D.record_input(hall, "kiosk-1", "in-1", "idcard", "card_read", CARD, AGENT)
    again = D.record_input(hall, "kiosk-1", "in-1", "idcard", "card_read", CARD, AGENT)
    assert not first["duplicate"] and again["duplicate"]
    events = [e for e in hall.publisher.published if e["type"] == "device_input"]
    assert len(events) == 1
    text = str(events[0])
    assert "11010519491231002X" not in text and "王小娜" not in text and "1949" not in text
    assert events[0]["payload"]["data"] == {"name_masked": "王*娜", "id_masked": "1101**********002X",
                                            "elderly": True, "expired": False}
    assert "station:kiosk-1" in events[0]["rooms"]


def test_card_with_bad_check_character_is_refused(hall):
    with pytest.raises(InvalidInput, match="check character"):
        D.record_input(hall, "kiosk-1", "in-2", "idcard", "card_read", {**CARD, "id_number": "110105194912310021"},
                       AGENT)


def test_health_events_only_on_change(hall):
    D.report_health(hall, "kiosk-1", "printer", "ok", None, AGENT)
    D.report_health(hall, "kiosk-1", "printer", "ok", None, AGENT)
    D.report_health(hall, "kiosk-1", "printer", "error", {"paper_out": True}, AGENT)
    health = [e["payload"]["status"] for e in hall.publisher.published if e["type"] == "device_health"]
    assert health == ["ok", "error"]
    assert D.stations_health(hall)[0]["detail"] == {"paper_out": True}


def test_commands_are_checked_and_go_to_the_station_room(hall):
    out = D.send_command(hall, "window-3", "led", "show", {"lines": ["A001"]}, Actor("staff", "li"))
    ev = hall.publisher.published[-1]
    assert ev["type"] == "device_command" and ev["payload"]["command_id"] == out["command_id"]
    assert "station:window-3" in ev["rooms"]
    with pytest.raises(InvalidInput, match="allowed"):
        D.send_command(hall, "window-3", "led", "explode", {}, Actor("staff", "li"))
    with pytest.raises(InvalidInput, match="station"):
        D.report_health(hall, "Bad Station", "led", "ok", None, AGENT)


def test_ticket_from_a_card_read_gets_priority_and_only_once(hall):
    from queue_server.services import tickets as T

    D.record_input(hall, "kiosk-1", "card-9", "idcard", "card_read", CARD, AGENT)
    first = T.issue_ticket(hall, T.IssueRequest(queue_id="a", card_input_id="card-9"), AGENT)
    assert first.created and first.ticket["priority"] == "elderly"
    again = T.issue_ticket(hall, T.IssueRequest(queue_id="a", card_input_id="card-9"), AGENT)
    assert not again.created and again.reason == "already_has_ticket"
    from queue_server.domain.errors import NotFound

    with pytest.raises(NotFound):
        T.issue_ticket(hall, T.IssueRequest(queue_id="a", card_input_id="nope"), AGENT)
    # another kiosk's token cannot use kiosk-1's card read: to it the read does not exist
    with pytest.raises(NotFound):
        T.issue_ticket(hall, T.IssueRequest(queue_id="b", card_input_id="card-9"), Actor("device", "kiosk-2"))
    # and a caller without a device token cannot present a card read at all
    with pytest.raises(T.PriorityNotAllowed):
        T.issue_ticket(hall, T.IssueRequest(queue_id="b", card_input_id="card-9"), Actor("kiosk", "kiosk-1"))


def test_command_result_recorded_once(hall):
    first = D.record_command_result(hall, "kiosk-1", "c-1", False, "out of paper", None, AGENT)
    again = D.record_command_result(hall, "kiosk-1", "c-1", False, "out of paper", None, AGENT)
    assert not first["duplicate"] and again["duplicate"] and first["command"]["ok"] is False
    assert [e["type"] for e in hall.publisher.published].count("command_result") == 1


def test_foreign_permanent_resident_card(hall):
    data = {"id_number": "USA123456789012", "name": "SMITH", "birth_date": "1980-02-03"}
    taken = D.record_input(hall, "kiosk-1", "f-1", "idcard", "card_read", data, AGENT)
    assert taken["data"]["id_masked"] == "USA1*******9012"
    with pytest.raises(InvalidInput, match="birth_date"):
        D.record_input(hall, "kiosk-1", "f-2", "idcard", "card_read", {"id_number": "USA123456789012"}, AGENT)
