"""Whether the hall issues tickets now and, if not, when it next does — for the kiosk's home and the hall screen.

A demo server (``--always-open``, as ``make hall`` runs) issues tickets at any hour; it says so (``demo``) so the
pages can label themselves as a demo rather than pretend the hall is open at midnight.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.hours import issuing_status
from .context import HallContext

_WEEKDAY_ZH = "一二三四五六日"
_WEEKDAY_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _when(now: datetime, at: datetime) -> dict[str, str]:
    """"今天 14:30" / "明天 09:00" / "12月8日（周一）09:00", in each language."""
    hm = at.strftime("%H:%M")
    days = (at.date() - now.date()).days
    if days == 0:
        return {"zh": f"今天 {hm}", "bo": f"དེ་རིང་ {hm}", "en": f"today {hm}"}
    if days == 1:
        return {"zh": f"明天 {hm}", "bo": f"སང་ཉིན་ {hm}", "en": f"tomorrow {hm}"}
    wd = at.weekday()
    return {"zh": f"{at.month}月{at.day}日（周{_WEEKDAY_ZH[wd]}）{hm}",
            "bo": f"ཟླ་{at.month} ཚེས་{at.day} {hm}",
            "en": f"{_WEEKDAY_EN[wd]} {at.day} {_MONTH_EN[at.month - 1]} {hm}"}


def open_status(ctx: HallContext) -> dict[str, Any]:
    """{open, demo, reason, reason_en, opens_at, opens} where ``open`` is what a citizen may do now."""
    local = ctx.local()
    status = issuing_status(local, ctx.config.hours, ctx.is_workday)
    nxt = status.next_open
    sessions = [f"{s.start:%H:%M}–{s.end:%H:%M}" for s in ctx.config.hours.sessions]
    return {
        "open": status.open or ctx.always_open,
        "demo": ctx.always_open,
        "within_hours": status.open,
        "reason": status.reason,
        "reason_en": status.reason_en,
        "opens_at": nxt.isoformat() if nxt else None,
        "opens": _when(local, nxt) if nxt else None,
        "sessions": sessions,
    }
