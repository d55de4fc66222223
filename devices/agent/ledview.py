"""What a window-top LED screen shows: from the window's state and calls, or from an ``led.show`` command.

``led.show`` takes either the usual window layout::

    {"window": 3, "ticket": "A012", "staff": "王*娜", "status": "暂停服务", "notice": "..."}

or explicit lines::

    {"lines": [{"row": 0, "text": "3号窗口", "role": "window", "color": "green"},
               {"row": 1, "text": "A012", "role": "ticket", "blink": true}]}

(``role``: text, window, ticket, staff, status; ``color``: red, green, amber; ``scroll``/``blink``: booleans).
"""

from __future__ import annotations

from typing import Any

from devices.led.codec import Color, Line, Role, ScreenContent

_ROLES = {role.name.lower(): role for role in Role}
_COLORS = {color.name.lower(): color for color in Color}
_LAYOUT_KEYS = ("window", "ticket", "staff", "status", "notice")
_LINE_KEYS = {"row", "text", "role", "scroll", "blink", "color"}


class ContentError(ValueError):
    """LED content that cannot be shown; the message names the field and what is allowed."""


def content_from_args(args: dict[str, Any]) -> ScreenContent:
    """The ScreenContent an ``led.show`` command's args describe."""
    if not isinstance(args, dict):
        raise ContentError("led.show args must be an object: {window, ticket, staff, status, notice} or {lines}")
    if "lines" in args:
        extra = set(args) - {"lines"}
        if extra:
            raise ContentError(f"led.show with 'lines' takes nothing else; unexpected: {', '.join(sorted(extra))}")
        lines = args["lines"]
        if not isinstance(lines, list):
            raise ContentError("led.show 'lines' must be a list of {row, text, role, scroll, blink, color}")
        return ScreenContent(tuple(_line(i, item) for i, item in enumerate(lines)))
    extra = set(args) - set(_LAYOUT_KEYS)
    if extra:
        raise ContentError(f"led.show: unknown field(s) {', '.join(sorted(extra))}; use {', '.join(_LAYOUT_KEYS)} "
                           "or lines")
    window = args.get("window")
    if window is None or isinstance(window, bool) or not isinstance(window, int | str) or window == "":
        raise ContentError("led.show needs 'window': the window number (3) or a label ('3号窗口')")
    texts = {}
    for key in ("ticket", "staff", "status", "notice"):
        value = args.get(key)
        if value is not None and not isinstance(value, str):
            raise ContentError(f"led.show '{key}' must be text, got {type(value).__name__}")
        texts[key] = value or None
    return ScreenContent.for_window(window, **texts)


def _line(index: int, item: Any) -> Line:
    where = f"led.show lines[{index}]"
    if not isinstance(item, dict):
        raise ContentError(f"{where} must be an object with row and text")
    extra = set(item) - _LINE_KEYS
    if extra:
        raise ContentError(f"{where}: unknown field(s) {', '.join(sorted(extra))}; allowed: {', '.join(sorted(_LINE_KEYS))}")
    row, text = item.get("row"), item.get("text")
    if isinstance(row, bool) or not isinstance(row, int) or row < 0:
        raise ContentError(f"{where}.row must be a row number from 0")
    if not isinstance(text, str):
        raise ContentError(f"{where}.text must be text")
    role = item.get("role", "text")
    if isinstance(role, str) and role.lower() in _ROLES:
        role = _ROLES[role.lower()]
    elif isinstance(role, int) and not isinstance(role, bool) and role in Role._value2member_map_:
        role = Role(role)
    else:
        raise ContentError(f"{where}.role must be one of {', '.join(_ROLES)}")
    color = item.get("color", "red")
    if not isinstance(color, str) or color.lower() not in _COLORS:
        raise ContentError(f"{where}.color must be one of {', '.join(_COLORS)}")
    for flag in ("scroll", "blink"):
        if not isinstance(item.get(flag, False), bool):
            raise ContentError(f"{where}.{flag} must be true or false")
    return Line(row, text, role, scroll=item.get("scroll", False), blink=item.get("blink", False),
                color=_COLORS[color.lower()])


def window_content(view: dict[str, Any]) -> ScreenContent:
    """The screen for a window's state (``window_state`` payload or a snapshot's window entry)."""
    number = view.get("number")
    label: int | str = number if isinstance(number, int) and not isinstance(number, bool) else str(
        view.get("name") or view.get("window_id") or "")
    status = view.get("status")
    current = view.get("current") if isinstance(view.get("current"), dict) else None
    ticket = str(current["number"]) if current and current.get("number") else None
    if status == "open":
        return ScreenContent.for_window(label, ticket=ticket)
    # paused, closed, closed for the day: say so (暂停服务...); a paused window still shows whom it serves
    status_text = str(view.get("status_label") or {"paused": "暂停服务", "closed": "未开窗",
                                                     "closed_for_day": "今日已停止服务"}.get(str(status), ""))
    return ScreenContent.for_window(label, ticket=ticket if status == "paused" else None, status=status_text or None)
