"""Report figures for 好差评, 差评 follow-up and 限时办结 from real ratings and cases; the 差评 alert closes when its
follow-up closes."""

from queue_server.domain.evaluations import Channel
from queue_server.services import alerts, reports
from queue_server.services import evaluations as ev

from .conftest import APPROVER, CITIZEN, WINDOW
from .test_evaluation_services import decided_case, finished_ticket, token_of


def test_ratings_follow_ups_and_on_time_cases_add_up(hall) -> None:  # type: ignore[no-untyped-def]
    tokens = []
    for _ in range(3):
        t = finished_ticket(hall)
        tokens.append(token_of(hall, ev.invite_for_ticket(hall, t["id"], WINDOW, start_pad=False)))
    ev.rate(hall, tokens[0], 5, [], None, CITIZEN, Channel.QR)
    ev.rate(hall, tokens[1], 3, [], None, CITIZEN, Channel.QR)
    fid = ev.rate(hall, tokens[2], 1, [2], "态度差", CITIZEN, Channel.QR)["followup"]["id"]
    alerts.evaluate(hall)
    bad = [a for a in alerts.list_alerts(hall, open_only=True) if a["kind"] == "bad_rating"]
    assert len(bad) == 1 and bad[0]["level"] == "critical"
    decided_case(hall)

    day = hall.today()
    tables = {t["id"]: t for t in reports.quality_report(hall, day, day)["tables"]}
    [row] = tables["ratings"]["rows"]
    assert row[1:] == [3, 1, 0, 1, 0, 1, 66.7, 1, 0, 1]  # total, 5..1, satisfaction %, 差评, closed, open
    [dept] = tables["ontime"]["rows"]
    assert dept[1:] == [1, 1, 100.0]
    staff = reports.assessment(hall, day)["tables"][0]["rows"]
    li = next(r for r in staff if r[1] == "li.na")
    assert li[2] == 3 and li[5] == 3 and li[6] == 66.7 and li[7] == 1 and li[8] == 0

    for step, note, extra in [("verify", "属实", {"substantiated": True}), ("rectify", "整改", {}),
                              ("reply", "已回复", {}), ("return_visit", "满意", {"satisfied": True})]:
        ev.followup_step(hall, fid, step, note, APPROVER, **extra)
    alerts.evaluate(hall)
    assert not [a for a in alerts.list_alerts(hall, open_only=True) if a["kind"] == "bad_rating"]
    [row] = [t for t in reports.quality_report(hall, day, day)["tables"] if t["id"] == "ratings"][0]["rows"]
    assert row[9:] == [1, 0]
