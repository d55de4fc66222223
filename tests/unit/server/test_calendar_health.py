"""Missing calendar year: warned from November 1 until the calendar has the next year; a deadline in an unknown
year is calendar_missing (409, no Retry-After) naming the file to update."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from queue_server.domain.workdays import WorkCalendar, missing_calendar_years
from queue_server.services.calendar_health import calendar_warnings


def test_next_year_is_needed_from_november_first() -> None:
    knows = {2026}.__contains__
    assert missing_calendar_years(date(2026, 10, 31), knows) == []
    assert missing_calendar_years(date(2026, 11, 1), knows) == [2027]
    assert missing_calendar_years(date(2026, 12, 31), knows) == [2027]
    assert missing_calendar_years(date(2027, 1, 2), knows) == [2027]  # and this year, always
    assert missing_calendar_years(date(2026, 11, 1), {2026, 2027}.__contains__) == []


def _ctx(today: date, calendar: WorkCalendar) -> SimpleNamespace:
    return SimpleNamespace(today=lambda: today, calendar=calendar)


def test_calendar_warnings_until_the_file_has_the_year() -> None:
    library_only = WorkCalendar()  # chinesecalendar here knows 2026, not 2027
    assert calendar_warnings(_ctx(date(2026, 10, 31), library_only)) == []  # type: ignore[arg-type]
    warned = calendar_warnings(_ctx(date(2026, 12, 6), library_only))  # type: ignore[arg-type]
    assert [w.year for w in warned] == [2027]
    assert "2027 calendar not loaded" in warned[0].message and "config/calendar.yaml" in warned[0].fix
    assert warned[0].as_dict()["kind"] == "calendar_missing"
    with_2027 = WorkCalendar({date(2027, 1, 1): False}, {2027})  # full_years: [2027] in config/calendar.yaml
    assert calendar_warnings(_ctx(date(2026, 12, 6), with_2027)) == []  # type: ignore[arg-type]


def test_a_deadline_in_an_unknown_year_is_calendar_missing_over_http(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import secrets

    from queue_server.app import create_app
    from queue_server.domain.errors import CalendarUnknown
    from queue_server.settings import Settings

    app = create_app(Settings(database=str(tmp_path / "a.db"), auth_required=False, always_open=True,
                              background_tasks=False, testing=True, person_secret=secrets.token_bytes(8)))

    @app.get("/api/v1/_test_deadline")
    def _deadline():  # type: ignore[no-untyped-def]
        return {"due": app.extensions["onewindow"].calendar.add_workdays(date(2026, 12, 30), 10).isoformat()}

    r = app.test_client().get("/api/v1/_test_deadline")
    assert r.status_code == 409 and "Retry-After" not in r.headers
    err = r.get_json()["error"]
    assert err["code"] == "calendar_missing" and "config/calendar.yaml" in err["message"]
    assert CalendarUnknown.code == "calendar_missing"
