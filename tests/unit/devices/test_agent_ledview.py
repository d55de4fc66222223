"""LED content for the agent: from led.show args and from a window's state; and the log redaction filter."""

from __future__ import annotations

import logging

import pytest

from devices.agent.ledview import ContentError, content_from_args, window_content
from devices.agent.privacy import RedactingFilter, card_label, safe_error
from devices.led.codec import Color, Role


def _texts(content) -> dict[int, str]:  # type: ignore[no-untyped-def]
    return {line.row: line.text for line in content.lines}


def test_window_open_with_a_current_ticket() -> None:
    view = {"window_id": "w01", "number": 1, "status": "open", "status_label": "服务中",
            "current": {"number": "A007"}}
    content = window_content(view)
    assert _texts(content) == {0: "1号窗口", 1: "A007"}
    assert content.line_at(1).role is Role.TICKET and content.line_at(1).blink


def test_window_paused_and_closed_say_so() -> None:
    paused = window_content({"number": 3, "status": "paused", "status_label": "暂停服务", "current": None})
    assert _texts(paused) == {0: "3号窗口", 3: "暂停服务"}
    closed = window_content({"number": 3, "status": "closed_for_day", "current": None})
    assert _texts(closed)[3] == "今日已停止服务"


def test_show_args_layout_and_lines() -> None:
    layout = content_from_args({"window": 2, "ticket": "B010", "staff": "王*娜"})
    assert _texts(layout) == {0: "2号窗口", 1: "B010", 2: "王*娜"}
    lines = content_from_args({"lines": [{"row": 0, "text": "综合窗口", "role": "window", "color": "green"},
                                         {"row": 3, "text": "请稍候", "scroll": True}]})
    assert lines.line_at(0).color is Color.GREEN and lines.line_at(0).role is Role.WINDOW
    assert lines.line_at(3).scroll and lines.line_at(3).role is Role.TEXT


@pytest.mark.parametrize(("args", "says"), [
    ({}, "needs 'window'"),
    ({"window": 1, "colour": "red"}, "unknown field"),
    ({"window": 1, "ticket": 5}, "'ticket' must be text"),
    ({"lines": "A001"}, "must be a list"),
    ({"lines": [{"row": -1, "text": "x"}]}, "row must be"),
    ({"lines": [{"row": 0, "text": "x", "role": "boss"}]}, "role must be one of"),
    ({"lines": [{"row": 0, "text": "x", "color": "blue"}]}, "color must be one of"),
    ({"lines": [{"row": 0, "text": "x", "blink": "yes"}]}, "blink must be true or false"),
    ({"lines": [], "window": 1}, "takes nothing else"),
])
def test_show_args_errors_name_the_field(args: dict, says: str) -> None:
    with pytest.raises(ContentError, match=says):
        content_from_args(args)


def test_the_log_filter_masks_numbers_that_slip_in(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("devices.agent.test")
    handler_filter = RedactingFilter()
    record = logger.makeRecord("devices.agent.test", logging.INFO, __file__, 1,
                               "reader said %s about %s", ("620102200411020357", "13912345678"), None)
    assert handler_filter.filter(record)
    assert record.getMessage() == "reader said 6201**********0357 about 139****5678"
    assert card_label("李浩然", "620102200411020357") == "李*然 6201**********0357"
    assert safe_error(ValueError("bad 620102200411020357")) == "bad 6201**********0357"
