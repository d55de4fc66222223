"""Kiosk tickets: printed through the agent when the printer can print (a valid ticket document, no ID number),
shown on screen with a staff alert when it cannot; card taps give priority by age and one ticket per person."""

from __future__ import annotations

import pytest

from devices.printer.document import TicketDocument
from queue_server.domain.errors import DomainError, NotFound
from queue_server.services import devices as D
from queue_server.services import kiosk_guidance, kiosk_print, kiosk_tickets
from queue_server.services.context import Actor
from queue_server.services.kiosk_tickets import KioskIssue

AGENT = Actor("device", "kiosk-1")
KIOSK = Actor("kiosk", "kiosk-1")
ELDER = {"id_number": "11010519491231002X", "name": "王小娜", "birth_date": "1949-12-31"}
YOUNG = {"id_number": "62010219900307035X", "name": "李然"}


def printer(hall, status: str, detail=None, agent: str = "ok") -> None:
    D.report_health(hall, "kiosk-1", "agent", agent, {}, AGENT)
    D.report_health(hall, "kiosk-1", "printer", status, detail, AGENT)


def published(hall, kind: str) -> list[dict]:
    return [e["payload"] for e in hall.publisher.published if e["type"] == kind]


def text_of(document: dict) -> str:
    doc = TicketDocument.from_dict(document)  # what the agent's printer worker will accept
    return "\n".join(getattr(b, "text", "") or getattr(b, "payload", "") for b in doc.blocks)


def test_printer_ok_sends_a_valid_ticket_document_to_the_station(hall):
    printer(hall, "ok", {"state": "ready"})
    assert kiosk_print.printer_state(hall, "kiosk-1")["printable"] is True
    out = kiosk_tickets.issue(hall, "kiosk-1", KioskIssue(item_id="id-card-renew", lang="en"), KIOSK, "k1")
    assert out["created"] and out["print"]["status"] == "sent"
    cmd = published(hall, "device_command")[-1]
    assert cmd["command_id"] == out["print"]["command_id"] and cmd["command"] == "print"
    text = text_of(cmd["args"]["document"])
    t = out["ticket"]
    assert t["number"] == "H001" and t["number"] in text
    assert "公安服务（户政·出入境·交管）" in text and "23–25 号窗口" in text and "前面还有 0 人" in text
    assert "Go to Public security services" in text  # the visitor's language too
    assert t["tracker_url"].endswith("/t/" + t["tracker_url"].rsplit("/", 1)[1]) and t["tracker_url"] in text
    assert "取号时间：2026-11-26 09:30" in text
    assert published(hall, "kiosk_alert") == []


@pytest.mark.parametrize(("status", "detail", "agent", "reason"), [
    ("error", {"state": "paper_out"}, "ok", "paper_out"),
    ("offline", {"state": "offline"}, "ok", "offline"),
    ("ok", {"state": "ready"}, "offline", "agent_offline"),
])
def test_printer_that_cannot_print_means_screen_and_alert(hall, status, detail, agent, reason):
    printer(hall, status, detail, agent)
    state = kiosk_print.kiosk_status(hall, "kiosk-1")["printer"]
    assert state["printable"] is False and state["reason"] == reason
    out = kiosk_tickets.issue(hall, "kiosk-1", KioskIssue(queue_id="tax"), KIOSK)
    assert out["print"]["status"] == "unavailable" and out["created"]
    assert published(hall, "device_command") == []
    alert = published(hall, "kiosk_alert")[-1]
    assert alert["kind"] == "ticket_not_printed" and alert["number"] == "E001" and alert["printer_reason"] == reason
    assert kiosk_print.recent_alerts(hall)[0]["number"] == "E001"


def test_card_tap_greets_masked_gives_priority_and_a_repeat_shows_the_ticket(hall):
    """The kiosk page acts with its station's device token (AGENT): only then is its own reader's card honoured."""
    printer(hall, "ok")
    D.record_input(hall, "kiosk-1", "tap-1", "idcard", "card_read", ELDER, AGENT)
    who = kiosk_tickets.identify(hall, "kiosk-1", "tap-1")
    assert who["name_masked"] == "王*娜" and who["elderly"] and who["open_tickets"] == []
    first = kiosk_tickets.issue(hall, "kiosk-1", KioskIssue(item_id="out-of-area-filing", queue_id="medical",
                                                            card_input_id="tap-1"), AGENT)
    assert first["ticket"]["priority"] == "elderly" and first["ticket"]["queue_id"] == "medical"
    assert "11010519491231002X" not in str(published(hall, "device_command"))
    assert "王" not in text_of(published(hall, "device_command")[-1]["args"]["document"])  # no name on paper
    # the same card again (a new read): the kiosk shows the ticket held; asking again issues nothing new
    D.record_input(hall, "kiosk-1", "tap-2", "idcard", "card_read", ELDER, AGENT)
    again = kiosk_tickets.identify(hall, "kiosk-1", "tap-2")
    assert [t["number"] for t in again["open_tickets"]] == [first["ticket"]["number"]]
    repeat = kiosk_tickets.issue(hall, "kiosk-1", KioskIssue(item_id="out-of-area-filing", queue_id="medical",
                                                             card_input_id="tap-2"), AGENT)
    assert not repeat["created"] and repeat["reason"] == "already_has_ticket"
    assert repeat["print"]["status"] == "not_printed" and repeat["ticket"]["number"] == first["ticket"]["number"]
    assert len(published(hall, "device_command")) == 1
    D.record_input(hall, "kiosk-1", "tap-3", "idcard", "card_read", YOUNG, AGENT)
    young = kiosk_tickets.issue(hall, "kiosk-1", KioskIssue(assisted="consult", card_input_id="tap-3"), AGENT)
    assert young["ticket"]["priority"] == "normal" and young["ticket"]["queue_id"] == "assisted"


def test_card_read_of_another_station_is_not_taken(hall):
    D.record_input(hall, "kiosk-2", "tap-x", "idcard", "card_read", YOUNG, AGENT)
    with pytest.raises(NotFound):
        kiosk_tickets.identify(hall, "kiosk-1", "tap-x")


def test_copies_missing_sends_to_the_copy_point_first(hall):
    printer(hall, "ok")
    out = kiosk_tickets.issue(hall, "kiosk-1", KioskIssue(item_id="teacher-registration", queue_id="comprehensive",
                                                          copies_missing=True), KIOSK)
    assert out["ticket"]["copy_first"] == [{"name": "教师资格证书", "copies": 1}]
    text = text_of(published(hall, "device_command")[-1]["args"]["document"])
    assert "请先到免费复印区复印（无需另取号）：教师资格证书1份" in text


def test_self_service_item_offers_helper_and_window_queues_only(hall):
    helper = kiosk_tickets.issue(hall, "kiosk-1", KioskIssue(item_id="company-establishment"), KIOSK)
    assert helper["ticket"]["queue_id"] == "self-service-help" and helper["ticket"]["item_id"] is None
    window = kiosk_tickets.issue(hall, "kiosk-1", KioskIssue(item_id="company-establishment", queue_id="enterprise"),
                         KIOSK)
    assert window["ticket"]["queue_id"] == "enterprise" and window["ticket"]["item_id"] == "company-establishment"
    with pytest.raises(DomainError) as exc:
        kiosk_tickets.issue(hall, "kiosk-1", KioskIssue(item_id="company-establishment", queue_id="tax"), KIOSK)
    assert exc.value.code == "queue_item_mismatch"


def test_destination_and_guide_views(hall):
    d = kiosk_guidance.destination(hall, item_id="company-establishment")
    assert d["outcome"] == "self_service" and d["window_queue"]["id"] == "enterprise"
    assert d["online"]["portals"][0]["url"].startswith("https://zwfw.gansu.gov.cn")
    g = kiosk_guidance.item_guide(hall, "teacher-qualification")
    assert [m["name"] for m in g["materials"]][:2] == ["居民身份证", "学历证书"]
    assert g["copies_needed"] and g["copy_point"]["id"] == "copy" and g["promised_days"] == 15
    j = kiosk_guidance.destination(hall, item_id="legal-aid")
    assert j["queue"]["where"]["zone"]["site"]["main"] is False  # the judicial sub-center is another site
    with pytest.raises(NotFound):
        kiosk_guidance.destination(hall, item_id="nope")


def test_checklist_prints_every_material(hall):
    printer(hall, "warning", {"state": "paper_near_end"})  # still prints
    out = kiosk_print.print_checklist(hall, "kiosk-1", "teacher-qualification", KIOSK)
    assert out["print"]["status"] == "sent"
    text = text_of(published(hall, "device_command")[-1]["args"]["document"])
    assert "教师资格认定" in text and "□ 2. 学历证书：原件、复印件1份" in text and "15 个工作日" in text


def test_a_failed_print_seen_by_the_page_alerts_staff(hall):
    out = kiosk_tickets.issue(hall, "kiosk-1", KioskIssue(queue_id="tax"), KIOSK)
    alert = kiosk_print.report_print_failure(hall, "kiosk-1", out["ticket"]["id"], "c1", "printer is out of paper")
    assert alert["kind"] == "print_failed" and alert["number"] == "E001" and "paper" in alert["error"]


def test_the_tibetan_ticket_says_people_ahead_in_tibetan_and_its_lines_fit_80_mm(hall):
    from devices.printer.profile import DEFAULT_PROFILE
    from devices.printer.raster import measure, wrap_pixels

    printer(hall, "ok", {"state": "ready"})
    kiosk_tickets.issue(hall, "kiosk-1", KioskIssue(queue_id="tax"), KIOSK, "first")
    out = kiosk_tickets.issue(hall, "kiosk-1", KioskIssue(queue_id="tax", lang="bo"), KIOSK, "second")
    doc = TicketDocument.from_dict(published(hall, "device_command")[-1]["args"]["document"])
    texts = [b.text for b in doc.blocks if getattr(b, "text", None)]
    assert "མདུན་དུ་མི་ 1 སྒུག་བཞིན་ཡོད།" in texts  # people ahead, in Tibetan, on its own line
    assert any(t.startswith("ཕལ་ཆེར་སྐར་མ་ ") for t in texts)  # the estimated wait too
    qr = next(b.payload for b in doc.blocks if b.type == "qr")
    assert qr == out["ticket"]["tracker_url"] + "?lang=bo"  # the tracker opens in Tibetan
    size, width = DEFAULT_PROFILE.char_height_dots, DEFAULT_PROFILE.paper_width_dots
    for block in doc.blocks:
        text = getattr(block, "text", "") or ""
        if not any("\u0f00" <= c <= "\u0fff" for c in text) or block.type == "header":
            continue
        rows = [r for line in text.split("\n") for r in wrap_pixels(line, size, width)]
        assert all(measure(r, size) <= width for r in rows), text
        # a wrapped Tibetan line breaks between syllables (after a tsheg, a shad or a space), never inside one
        assert all(r.endswith(("\u0f0b", "\u0f0d", " ")) or r == rows[-1] or not r for r in rows[:-1]), rows
    short = [t for t in texts if t.startswith(("མདུན་དུ་", "ཕལ་ཆེར་"))]
    assert all(len(wrap_pixels(t, size, width)) == 1 for t in short)  # each fits one 80 mm row
