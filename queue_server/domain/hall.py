"""The hall as validated data: sites, zones, departments, queues, windows, service items, hours and policy.

Pure data with validation rules (pydantic); reading files and reporting errors lives in ``queue_server.hall_config``.
"""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .alerts import SupervisionRules

Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(Strict):
    """A name in the interface languages: Chinese first, Tibetan and English follow."""

    zh: str = Field(min_length=1)
    bo: str | None = None
    en: str | None = None


def every_language(n: Names | None, fallback: str = "") -> dict[str, str]:
    """A name as the citizen pages show it: {"zh", "bo", "en"}, Chinese where a language has none."""
    zh = n.zh if n else fallback
    return {"zh": zh, "bo": (n.bo if n else None) or zh, "en": (n.en if n else None) or zh}


class ZoneKind(StrEnum):
    SELF_SERVICE = "self_service"
    ASSISTED = "assisted"
    COMPREHENSIVE = "comprehensive"
    DOMAIN = "domain"
    THEMED = "themed"
    ISSUANCE = "issuance"
    COPY = "copy"
    OTHER = "other"


class Site(Strict):
    id: Ident
    name: Names
    address: str | None = None


class Zone(Strict):
    id: Ident
    site: Ident
    kind: ZoneKind
    name: Names
    floor: str | None = None


class Department(Strict):
    id: Ident
    name: str = Field(min_length=1)


class Session(Strict):
    """One opening session of a day, e.g. morning 09:00-12:00."""

    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> Session:
        if self.end <= self.start:
            raise ValueError(f"session ends ({self.end:%H:%M}) before it starts ({self.start:%H:%M})")
        return self


class BusinessHours(Strict):
    sessions: list[Session] = Field(min_length=1)
    # ISO weekdays (1 = Monday) the hall opens when no calendar says otherwise.
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = [1, 2, 3, 4, 5]
    # Stop issuing tickets this many minutes before a session ends, so everyone issued can be served.
    stop_issuing_before_end_min: int = Field(default=15, ge=0, le=180)

    @model_validator(mode="after")
    def _no_overlap(self) -> BusinessHours:
        ordered = sorted(self.sessions, key=lambda s: s.start)
        for a, b in zip(ordered, ordered[1:], strict=False):
            if b.start < a.end:
                raise ValueError(f"sessions {a.start:%H:%M}-{a.end:%H:%M} and {b.start:%H:%M}-{b.end:%H:%M} overlap")
        return self


class IssueWindow(Strict):
    """Hours inside business hours when a queue or item issues tickets (e.g. only mornings)."""

    start: time
    end: time


class Queue(Strict):
    id: Ident
    prefix: str = Field(pattern=r"^[A-Z]{1,2}$", description="letter(s) before the daily number, e.g. A -> A001")
    name: Names
    zone: Ident
    daily_cap: int | None = Field(default=None, ge=1)
    issue_windows: list[IssueWindow] = []
    # Used for the wait estimate until the day has enough finished services of its own.
    default_service_min: float = Field(default=8.0, gt=0, le=240)
    number_digits: int = Field(default=3, ge=2, le=5)


class WindowQueue(Strict):
    queue: Ident
    weight: int = Field(default=1, ge=1, le=100)


class WindowStaff(Strict):
    """Who normally sits at the window, for the window-top screen (a photo file under config/photos/)."""

    name: str = Field(min_length=1, max_length=40)
    photo: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+\.(jpg|jpeg|png)$")
    post: str | None = None


class Window(Strict):
    id: Ident
    number: int = Field(ge=1, le=999, description="the number said in calls: 请 A001 号到 3 号窗口")
    name: Names
    zone: Ident
    queues: list[WindowQueue] = Field(min_length=1)
    staff: WindowStaff | None = None


class Material(Strict):
    name: str = Field(min_length=1)
    original: bool = True
    copies: int = Field(default=0, ge=0, le=20)
    tolerance: bool = Field(default=False, description="容缺: may be handed in later under 容缺受理")
    e_licence: bool = Field(default=False, description="available by sharing an electronic licence")
    note: str | None = None


class ItemKind(StrEnum):
    IMMEDIATE = "immediate"  # 即办件
    PROMISED = "promised"  # 承诺件


class ItemCategory(StrEnum):
    """What the law calls the item: the notices' wording follows it (许可 / 给付 / 确认 / 办理)."""

    LICENSING = "licensing"  # 行政许可 (the Administrative Licensing Law applies)
    BENEFIT = "benefit"  # 行政给付 (pensions, allowances, subsidies)
    CONFIRMATION = "confirmation"  # 行政确认 (registrations that confirm a status, e.g. marriage)
    PUBLIC_SERVICE = "public_service"  # 公共服务 (cards, enrolments, connections)


class ServiceItem(Strict):
    id: Ident
    name: str = Field(min_length=1)
    department: Ident
    queue: Ident
    theme: str | None = None
    kind: ItemKind
    category: ItemCategory = ItemCategory.LICENSING
    promised_days: int = Field(default=0, ge=0, le=365)
    statutory_days: int = Field(default=0, ge=0, le=365)
    fully_online: bool = False
    daily_cap: int | None = Field(default=None, ge=1)
    issue_windows: list[IssueWindow] = []
    materials: list[Material] = []
    fee: str | None = None

    @model_validator(mode="after")
    def _days(self) -> ServiceItem:
        if self.kind is ItemKind.PROMISED:
            if self.promised_days < 1:
                raise ValueError("a promised item (承诺件) needs promised_days >= 1")
            if self.statutory_days and self.promised_days > self.statutory_days:
                raise ValueError(
                    f"promised_days ({self.promised_days}) exceeds statutory_days ({self.statutory_days})"
                )
        return self


class PriorityClass(StrEnum):
    NORMAL = "normal"
    ELDERLY = "elderly"
    LEGAL = "legal"  # 军人依法优先, disabled, late pregnancy, martyrs' families, fire and rescue crews
    APPOINTMENT = "appointment"
    GREEN = "green"


LEGAL_PRIORITY_REASONS = ("military", "disabled", "pregnancy", "martyr_family", "rescue")


class NoShowPolicy(Strict):
    requeue_allowed: bool = True
    requeue_within_min: int = Field(default=30, ge=0, le=480)
    requeue_position: Literal["front", "back", "original"] = "back"


class CallingPolicyConfig(Strict):
    """Parameters of the default calling policy (see ``domain.calling``)."""

    # After this many priority calls in a row at a window, one normal ticket is called if any waits.
    priority_per_normal: int = Field(default=2, ge=1, le=20)
    # Order of the priority classes among themselves (green always first and never counted in the ratio).
    priority_order: list[PriorityClass] = [PriorityClass.LEGAL, PriorityClass.ELDERLY, PriorityClass.APPOINTMENT]
    # A ticket waiting longer than this is called next regardless of class (None: off).
    long_wait_min: int | None = Field(default=None, ge=1, le=600)
    max_recalls: int = Field(default=3, ge=0, le=10)
    no_show: NoShowPolicy = NoShowPolicy()

    @field_validator("priority_order")
    @classmethod
    def _order(cls, v: list[PriorityClass]) -> list[PriorityClass]:
        wanted = {PriorityClass.LEGAL, PriorityClass.ELDERLY, PriorityClass.APPOINTMENT}
        if set(v) != wanted or len(v) != len(wanted):
            raise ValueError("list each of legal, elderly, appointment exactly once")
        return v


class HallSettings(Strict):
    id: Ident
    name: Names
    timezone: str = "Asia/Shanghai"
    complaint_phone: str = "12345"
    # The service day starts at this local time; tickets still open then are closed as yesterday's.
    rollover_at: time = time(3, 0)
    elderly_age: int = Field(default=60, ge=50, le=100)
    tracker_base_url: str = "http://127.0.0.1:5000"
    notice: Names | None = None


class HallConfig(Strict):
    sample_data: bool = Field(
        default=False, description="true while the catalogue is sample data awaiting the hall's official one"
    )
    hall: HallSettings
    hours: BusinessHours
    calling: CallingPolicyConfig = CallingPolicyConfig()
    sites: list[Site] = Field(min_length=1)
    zones: list[Zone] = Field(min_length=1)
    departments: list[Department] = Field(min_length=1)
    queues: list[Queue] = Field(min_length=1)
    windows: list[Window] = Field(min_length=1)
    items: list[ServiceItem] = []
    # 电子监察 thresholds (domain/alerts.py); every one has a default, so the section is optional.
    supervision: SupervisionRules = SupervisionRules()

    @model_validator(mode="after")
    def _references(self) -> HallConfig:
        errors = cross_check(self.model_dump(mode="json"))
        if errors:
            raise ValueError("; ".join(errors))
        return self

    # Lookups by id, run several times in every request: indexed once (the config is frozen). A cached_property
    # (a plain attribute once computed) rather than a pydantic private attribute (~3 µs a read). A changed hall is
    # validated anew (never ``model_copy(update=...)``, which would carry the old index along).
    @cached_property
    def _by_id(self) -> _Index:
        serving: dict[str, int] = {}
        for w in self.windows:
            for queue_id in dict.fromkeys(wq.queue for wq in w.queues):
                serving[queue_id] = serving.get(queue_id, 0) + 1
        return _Index({q.id: q for q in self.queues}, {w.id: w for w in self.windows},
                      {i.id: i for i in self.items}, {z.id: z for z in self.zones}, serving)

    def queue(self, queue_id: str) -> Queue:
        return self._by_id.queues[queue_id]

    def window(self, window_id: str) -> Window:
        return self._by_id.windows[window_id]

    def item(self, item_id: str) -> ServiceItem:
        return self._by_id.items[item_id]

    def zone(self, zone_id: str) -> Zone:
        return self._by_id.zones[zone_id]

    def windows_serving(self, queue_id: str) -> int:
        """How many windows serve the queue (in the configuration, open or not)."""
        return self._by_id.serving.get(queue_id, 0)


class _Index(NamedTuple):
    queues: dict[str, Queue]
    windows: dict[str, Window]
    items: dict[str, ServiceItem]
    zones: dict[str, Zone]
    serving: dict[str, int]  # windows per queue


def _ids(raw: dict[str, Any], section: str, field: str = "id") -> list[str]:
    entries = raw.get(section)
    if not isinstance(entries, list):
        return []
    return [str(e.get(field)) for e in entries if isinstance(e, dict) and e.get(field) is not None]


def cross_check(raw: dict[str, Any]) -> list[str]:
    """Reference and uniqueness problems across sections, on plain data, so they can be reported together
    with field errors even when the file has those too."""
    errors: list[str] = []

    def unique(kind: str, ids: list[str]) -> None:
        seen: set[str] = set()
        for i in ids:
            if i in seen:
                errors.append(f"{kind} {i!r} is used twice; it must be unique")
            seen.add(i)

    for section, kind in (("sites", "site id"), ("zones", "zone id"), ("departments", "department id"),
                          ("queues", "queue id"), ("windows", "window id"), ("items", "item id")):
        unique(kind, _ids(raw, section))
    unique("queue prefix", _ids(raw, "queues", "prefix"))
    sites, zones = set(_ids(raw, "sites")), set(_ids(raw, "zones"))
    queues, departments = set(_ids(raw, "queues")), set(_ids(raw, "departments"))

    def entries(section: str) -> list[dict[str, Any]]:
        value = raw.get(section)
        return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []

    site_of_zone = {str(z.get("id")): str(z.get("site")) for z in entries("zones")}
    for z in entries("zones"):
        if z.get("site") is not None and z["site"] not in sites:
            errors.append(f"zone {z.get('id')!r}: site {z['site']!r} is not defined "
                          f"(defined: {', '.join(sorted(sites)) or 'none'})")
    for q in entries("queues"):
        if q.get("zone") is not None and q["zone"] not in zones:
            errors.append(f"queue {q.get('id')!r}: zone {q['zone']!r} is not defined")
    numbers: dict[tuple[str, Any], Any] = {}
    served: set[str] = set()
    for w in entries("windows"):
        if w.get("zone") is not None and w["zone"] not in zones:
            errors.append(f"window {w.get('id')!r}: zone {w['zone']!r} is not defined")
        key = (site_of_zone.get(str(w.get("zone")), "?"), w.get("number"))
        if w.get("number") is not None and key in numbers:
            errors.append(f"window {w.get('id')!r}: number {w['number']} is already used by window "
                          f"{numbers[key]!r} at that site")
        numbers[key] = w.get("id")
        for wq in w.get("queues") or []:
            if isinstance(wq, dict) and wq.get("queue") is not None:
                served.add(str(wq["queue"]))
                if wq["queue"] not in queues:
                    errors.append(f"window {w.get('id')!r}: queue {wq['queue']!r} is not defined "
                                  f"(defined: {', '.join(sorted(queues))})")
    for unserved in sorted(queues - served):
        errors.append(f"queue {unserved!r}: no window serves it; add it to a window's queues")
    for i in entries("items"):
        if i.get("queue") is not None and i["queue"] not in queues:
            errors.append(f"item {i.get('id')!r}: queue {i['queue']!r} is not defined")
        if i.get("department") is not None and i["department"] not in departments:
            errors.append(f"item {i.get('id')!r}: department {i['department']!r} is not defined")
    targets = (raw.get("supervision") or {}).get("queue_targets") or {}
    for q in sorted(set(targets) - queues) if isinstance(targets, dict) else []:
        errors.append(f"supervision.queue_targets: queue {q!r} is not defined (defined: {', '.join(sorted(queues))})")
    return errors


def format_number(prefix: str, seq: int, digits: int = 3) -> str:
    """``A`` + 1 -> ``A001``; past the digits the number simply grows (A1000)."""
    return f"{prefix}{seq:0{digits}d}"


_NUMBER = re.compile(r"^([A-Z]{1,2})(\d+)$")


def parse_number(number: str) -> tuple[str, int]:
    m = _NUMBER.match(number)
    if not m:
        raise ValueError(f"not a ticket number: {number!r} (expected letters then digits, e.g. A001)")
    return m.group(1), int(m.group(2))
