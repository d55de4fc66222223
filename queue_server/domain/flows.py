"""The kiosk's guided flows and where they lead; appointment check-in rules.

``config/flows.yaml`` is a decision tree per home tile: each node asks one question, each answer leads to another
node, another flow, or an outcome — a service item (the resolver picks self-service, assisted desk or a window
queue from the item), a queue, or the assisted desk with a reason. ``check_flows`` cross-checks a flows file
against the hall (items, queues, zones exist; every node is reachable; no node loops back) and names the entry.

Pure: no Flask, no SQL, no clock (times are passed in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .hall import LEGAL_PRIORITY_REASONS, HallConfig, ServiceItem, ZoneKind

Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
# pydantic reads the tuple at run time, so the reasons live in one place; mypy accepts only literals here.
LegalReason = Literal[LEGAL_PRIORITY_REASONS]  # type: ignore[valid-type]
LANGUAGES = ("zh", "bo", "en")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Label(Strict):
    """Text shown on the kiosk: every screen is in Chinese, Tibetan and English, so all three are required."""

    zh: str = Field(min_length=1)
    bo: str = Field(min_length=1)
    en: str = Field(min_length=1)


class ItemPick(Strict):
    """A generated list of items as the answers of a node: by theme, by queue, or named one by one."""

    themes: list[str] = []
    queues: list[Ident] = []
    ids: list[Ident] = []

    @model_validator(mode="after")
    def _some(self) -> ItemPick:
        if not (self.themes or self.queues or self.ids):
            raise ValueError("name at least one of themes, queues, ids")
        return self


TARGETS = ("next", "flow", "item", "items", "queue", "assisted")


class Option(Strict):
    """One answer on a screen; exactly one target says where it leads."""

    label: Label
    hint: Label | None = None
    icon: str | None = Field(default=None, max_length=8)
    elder: bool = Field(default=True, description="also shown in elder mode (fewer choices per screen)")
    next: Ident | None = None  # a node of the same flow
    flow: Ident | None = None  # another flow
    item: Ident | None = None  # a service item: the resolver picks the destination
    items: ItemPick | None = None  # the list of these items is the next screen
    queue: Ident | None = None  # a window queue directly
    assisted: Ident | None = None  # the assisted desk, with a reason from assisted_reasons
    legal_reason: LegalReason | None = Field(default=None, description="priority by law (staff verify it)")

    @model_validator(mode="after")
    def _one_target(self) -> Option:
        given = [t for t in TARGETS if getattr(self, t) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(TARGETS)}; got {', '.join(given) or 'none'}")
        if self.legal_reason and not (self.queue or self.assisted or self.item):
            raise ValueError("legal_reason only goes with an item, queue or assisted outcome")
        return self

    @property
    def target(self) -> tuple[str, Any]:
        for t in TARGETS:
            value = getattr(self, t)
            if value is not None:
                return t, value
        raise AssertionError("validated: one target")  # pragma: no cover


class Node(Strict):
    ask: Label
    note: Label | None = None
    options: list[Option] = Field(min_length=1, max_length=16)


class Flow(Strict):
    title: Label
    start: Ident
    nodes: dict[Ident, Node] = Field(min_length=1)


class Tile(Strict):
    """A large tile of the home screen, by theme or by zone; it opens a flow or leads straight to an outcome."""

    id: Ident
    label: Label
    hint: Label | None = None
    icon: str = Field(default="", max_length=8)
    group: Literal["theme", "zone", "help"] = "theme"
    zone: Ident | None = None
    elder: bool = Field(default=True, description="shown on the elder-mode home screen")
    flow: Ident | None = None
    item: Ident | None = None
    queue: Ident | None = None
    assisted: Ident | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Tile:
        given = [t for t in ("flow", "item", "queue", "assisted") if getattr(self, t) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of flow, item, queue, assisted; got {', '.join(given) or 'none'}")
        return self


class Portal(Strict):
    name: Label
    url: str = Field(min_length=1, max_length=300)
    hint: Label | None = None


class OnlineFiling(Strict):
    """How to file an item online (一网一端): the portals and the steps, shown in the self-service outcome."""

    portals: list[Portal] = Field(min_length=1)
    steps: list[Label] = Field(min_length=1)


class KioskSettings(Strict):
    idle_timeout_s: int = Field(default=60, ge=10, le=900)
    elder_idle_timeout_s: int = Field(default=180, ge=10, le=1800)
    warn_before_s: int = Field(default=10, ge=0, le=60, description="the 'still there?' countdown before home")
    per_screen: int = Field(default=8, ge=2, le=16)
    elder_per_screen: int = Field(default=4, ge=2, le=8)
    ticket_on_screen_s: int = Field(default=30, ge=5, le=300)
    print_wait_s: int = Field(default=20, ge=3, le=120, description="no print result by then: show on screen")


class Destinations(Strict):
    """Which queues the outcomes use (defaults: the queue of the hall's assisted / self-service zone)."""

    assisted_queue: Ident | None = None
    self_service_queue: Ident | None = None
    copy_zone: Ident | None = None


class FlowsConfig(Strict):
    version: Literal[1] = 1
    kiosk: KioskSettings = KioskSettings()
    destinations: Destinations = Destinations()
    online: OnlineFiling
    assisted_reasons: dict[Ident, Label] = Field(min_length=1)
    keywords: dict[Ident, list[str]] = Field(default={}, description="item id -> what people call it (社保卡)")
    tiles: list[Tile] = Field(min_length=1)
    flows: dict[Ident, Flow] = {}


# ------------------------------------------------------------------------------------------ cross-checks


def _queue_of_zone_kind(hall: HallConfig, kind: ZoneKind) -> str | None:
    zones = {z.id for z in hall.zones if z.kind is kind}
    return next((q.id for q in hall.queues if q.zone in zones), None)


def assisted_queue(hall: HallConfig, flows: FlowsConfig) -> str | None:
    return flows.destinations.assisted_queue or _queue_of_zone_kind(hall, ZoneKind.ASSISTED)


def self_service_queue(hall: HallConfig, flows: FlowsConfig) -> str | None:
    return flows.destinations.self_service_queue or _queue_of_zone_kind(hall, ZoneKind.SELF_SERVICE)


def copy_zone(hall: HallConfig, flows: FlowsConfig) -> str | None:
    if flows.destinations.copy_zone:
        return flows.destinations.copy_zone
    return next((z.id for z in hall.zones if z.kind is ZoneKind.COPY), None)


def pick_items(hall: HallConfig, pick: ItemPick) -> list[ServiceItem]:
    """The items a generated list shows, in the order named: ids first, then by theme, then by queue."""
    out: list[ServiceItem] = []
    seen: set[str] = set()

    def add(item: ServiceItem) -> None:
        if item.id not in seen:
            seen.add(item.id)
            out.append(item)

    for i in pick.ids:
        add(hall.item(i))
    for theme in pick.themes:
        for item in hall.items:
            if item.theme == theme:
                add(item)
    for q in pick.queues:
        for item in hall.items:
            if item.queue == q:
                add(item)
    return out


def check_flows(flows: FlowsConfig, hall: HallConfig) -> list[str]:
    """Everything in the flows that the hall does not have, or that a citizen could never reach or leave.
    Each message names the entry: ``flows > civil > nodes > marriage > options[2] (结婚登记): item …``."""
    errors: list[str] = []
    items = {i.id for i in hall.items}
    queues = {q.id for q in hall.queues}
    zones = {z.id for z in hall.zones}
    themes = {i.theme for i in hall.items if i.theme}

    def need_queue(where: str, q: str | None, what: str) -> None:
        if q is not None and q not in queues:
            errors.append(f"{where}: {what} {q!r} is not a queue of the hall (queues: {', '.join(sorted(queues))})")

    need_queue("destinations > assisted_queue", assisted_queue(hall, flows), "queue")
    need_queue("destinations > self_service_queue", self_service_queue(hall, flows), "queue")
    if assisted_queue(hall, flows) is None:
        errors.append("destinations > assisted_queue: the hall has no assisted zone with a queue; name the queue")
    if self_service_queue(hall, flows) is None:
        errors.append("destinations > self_service_queue: the hall has no self-service zone with a queue; "
                      "name the queue")
    cz = flows.destinations.copy_zone
    if cz is not None and cz not in zones:
        errors.append(f"destinations > copy_zone: zone {cz!r} is not a zone of the hall")
    for item_id in flows.keywords:
        if item_id not in items:
            errors.append(f"keywords > {item_id}: no service item has this id")

    def check_target(where: str, kind: str, value: Any, flow_id: str | None, nodes: set[str]) -> None:
        if kind == "next":
            if flow_id is None:
                errors.append(f"{where}: next only works inside a flow")
            elif value not in nodes:
                errors.append(f"{where}: next {value!r} is not a node of flow {flow_id!r} "
                              f"(nodes: {', '.join(sorted(nodes))})")
        elif kind == "flow" and value not in flows.flows:
            errors.append(f"{where}: flow {value!r} is not defined (flows: {', '.join(sorted(flows.flows))})")
        elif kind == "item" and value not in items:
            errors.append(f"{where}: item {value!r} is not a service item of the hall")
        elif kind == "queue":
            need_queue(where, value, "queue")
        elif kind == "assisted" and value not in flows.assisted_reasons:
            errors.append(f"{where}: assisted reason {value!r} is not in assisted_reasons "
                          f"({', '.join(sorted(flows.assisted_reasons))})")
        elif kind == "items":
            pick: ItemPick = value
            for i in pick.ids:
                if i not in items:
                    errors.append(f"{where} > items > ids: {i!r} is not a service item of the hall")
            for t in pick.themes:
                if t not in themes:
                    errors.append(f"{where} > items > themes: no item has the theme {t!r}")
            for q in pick.queues:
                need_queue(f"{where} > items > queues", q, "queue")
            if not any(e.startswith(f"{where} > items") for e in errors):
                n = len(pick_items(hall, pick))
                if n == 0:
                    errors.append(f"{where} > items: the list is empty")
                elif n > 40:
                    errors.append(f"{where} > items: {n} items are too many for one screen list; split it "
                                  "by theme (40 at most)")

    for i, tile in enumerate(flows.tiles):
        where = f"tiles[{i}] (id \"{tile.id}\")"
        if tile.zone is not None and tile.zone not in zones:
            errors.append(f"{where}: zone {tile.zone!r} is not a zone of the hall")
        for kind in ("flow", "item", "queue", "assisted"):
            value = getattr(tile, kind)
            if value is not None:
                check_target(where, kind, value, None, set())
    seen_tiles: set[str] = set()
    for tile in flows.tiles:
        if tile.id in seen_tiles:
            errors.append(f"tiles: id {tile.id!r} is used twice")
        seen_tiles.add(tile.id)

    for flow_id, flow in flows.flows.items():
        nodes = set(flow.nodes)
        if flow.start not in nodes:
            errors.append(f"flows > {flow_id} > start: {flow.start!r} is not one of its nodes "
                          f"({', '.join(sorted(nodes))})")
        for node_id, node in flow.nodes.items():
            for k, opt in enumerate(node.options):
                where = f"flows > {flow_id} > nodes > {node_id} > options[{k}] ({opt.label.zh})"
                kind, value = opt.target
                check_target(where, kind, value, flow_id, nodes)
        # Reachable from start, and no node leads back to itself (a tree: the back button undoes, not a loop).
        if flow.start in nodes:
            reached: set[str] = set()
            path: list[str] = []

            def walk(n: str, flow: Flow = flow, reached: set[str] = reached, path: list[str] = path,
                     flow_id: str = flow_id) -> None:
                if n in path:
                    errors.append(f"flows > {flow_id}: the answers loop ({' -> '.join([*path[path.index(n):], n])});"
                                  " a flow must be a tree")
                    return
                if n in reached or n not in flow.nodes:
                    return
                reached.add(n)
                path.append(n)
                for opt in flow.nodes[n].options:
                    if opt.next is not None:
                        walk(opt.next)
                path.pop()

            walk(flow.start)
            for n in sorted(nodes - reached):
                errors.append(f"flows > {flow_id} > nodes > {n}: never reached from start {flow.start!r}; "
                              "link it from an answer or remove it")
    used = {t.flow for t in flows.tiles if t.flow} | {
        o.flow for f in flows.flows.values() for n in f.nodes.values() for o in n.options if o.flow}
    for flow_id in sorted(set(flows.flows) - used):
        errors.append(f"flows > {flow_id}: no tile or answer opens this flow")
    return errors


# ------------------------------------------------------------------------------------------ destinations


class Outcome(StrEnum):
    SELF_SERVICE = "self_service"  # the item is fully online: file it at the self-service zone or on a phone
    ASSISTED = "assisted"  # the assisted desk (帮办代办)
    WINDOW = "window"  # a themed, domain or comprehensive window queue


@dataclass(frozen=True)
class Destination:
    outcome: Outcome
    queue_id: str  # the queue a ticket goes to
    item_id: str | None = None
    reason: str | None = None  # assisted: why
    window_queue_id: str | None = None  # self-service: the item's own window, if the citizen prefers it
    legal_reason: str | None = None


def resolve(hall: HallConfig, flows: FlowsConfig, *, item_id: str | None = None, queue_id: str | None = None,
            assisted: str | None = None, legal_reason: str | None = None) -> Destination:
    """Where an answer leads. An item on the assisted desk's queue goes there; a fully online item goes to the
    self-service zone (its window stays offered); any other item to its window queue."""
    aq = assisted_queue(hall, flows)
    sq = self_service_queue(hall, flows)
    assert aq is not None and sq is not None, "check_flows guarantees both queues"
    if assisted is not None:
        if assisted not in flows.assisted_reasons:
            raise KeyError(assisted)
        return Destination(Outcome.ASSISTED, aq, item_id, assisted, legal_reason=legal_reason)
    if item_id is not None:
        item = hall.item(item_id)
        if item.queue == aq:
            return Destination(Outcome.ASSISTED, aq, item.id, item.theme, legal_reason=legal_reason)
        if item.fully_online and item.queue != sq:
            return Destination(Outcome.SELF_SERVICE, sq, item.id, window_queue_id=item.queue,
                               legal_reason=legal_reason)
        if item.queue == sq:
            return Destination(Outcome.SELF_SERVICE, sq, item.id, legal_reason=legal_reason)
        return Destination(Outcome.WINDOW, item.queue, item.id, legal_reason=legal_reason)
    if queue_id is not None:
        hall.queue(queue_id)
        if queue_id == aq:
            return Destination(Outcome.ASSISTED, aq, legal_reason=legal_reason)
        if queue_id == sq:
            return Destination(Outcome.SELF_SERVICE, sq, legal_reason=legal_reason)
        return Destination(Outcome.WINDOW, queue_id, legal_reason=legal_reason)
    raise ValueError("name an item, a queue or an assisted reason")


@dataclass(frozen=True)
class MaterialLine:
    name: str
    original: bool
    copies: int
    tolerance: bool
    e_licence: bool
    note: str | None


@dataclass(frozen=True)
class Guide:
    """An item's guide at the kiosk: the whole checklist at once (一次性告知) and the promised time."""

    item_id: str
    name: str
    kind: str
    promised_days: int
    statutory_days: int
    fully_online: bool
    fee: str | None
    materials: tuple[MaterialLine, ...]

    @property
    def copies_needed(self) -> tuple[MaterialLine, ...]:
        return tuple(m for m in self.materials if m.copies > 0)


def guide(item: ServiceItem) -> Guide:
    return Guide(
        item.id, item.name, item.kind.value, item.promised_days, item.statutory_days, item.fully_online, item.fee,
        tuple(MaterialLine(m.name, m.original, m.copies, m.tolerance, m.e_licence, m.note) for m in item.materials),
    )


# ------------------------------------------------------------------------------------------ appointments


class AppointmentSettings(Strict):
    """``config/appointments.yaml``: the check-in window around the booked slot and how codes look."""

    early_min: int = Field(default=30, ge=0, le=240, description="check-in opens this long before the slot")
    late_min: int = Field(default=15, ge=0, le=240, description="and closes this long after it")
    code_prefix: str = Field(default="YY", pattern=r"^[A-Z]{1,4}$")
    code_length: int = Field(default=8, ge=6, le=16, description="random characters after the prefix")
    slot_min: int = Field(default=30, ge=5, le=240, description="length of one booking slot")


class CheckIn(StrEnum):
    OK = "ok"
    TOO_EARLY = "too_early"
    TOO_LATE = "too_late"  # expired
    USED = "used"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class CheckInVerdict:
    result: CheckIn
    opens_at: datetime
    closes_at: datetime


def check_in_verdict(slot_at: datetime, status: str, now: datetime, settings: AppointmentSettings) -> CheckInVerdict:
    """May this booking check in now? Status first (used, cancelled), then the window around the slot."""
    opens = slot_at - timedelta(minutes=settings.early_min)
    closes = slot_at + timedelta(minutes=settings.late_min)
    if status == "checked_in":
        result = CheckIn.USED
    elif status == "cancelled":
        result = CheckIn.CANCELLED
    elif now < opens:
        result = CheckIn.TOO_EARLY
    elif now > closes:
        result = CheckIn.TOO_LATE
    else:
        result = CheckIn.OK
    return CheckInVerdict(result, opens, closes)


CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed without mistakes


def parse_code(raw: str, settings: AppointmentSettings) -> str | None:
    """The booking code in what a scanner or camera read: the bare code, or a URL ending in it (…/a/YYABCD2345 or
    …?code=YYABCD2345). None when it is not an appointment code at all (a health code, a web address)."""
    text = raw.strip()
    candidates = [text]
    if "://" in text or "/" in text or "?" in text:
        tail = text.split("?", 1)
        if len(tail) == 2:
            for part in tail[1].split("&"):
                key, _, value = part.partition("=")
                if key in ("code", "appointment", "c"):
                    candidates.insert(0, value)
        candidates.append(tail[0].rstrip("/").rsplit("/", 1)[-1])
    for c in candidates:
        code = c.strip().upper()
        if (code.startswith(settings.code_prefix) and len(code) == len(settings.code_prefix) + settings.code_length
                and all(ch in CODE_ALPHABET for ch in code[len(settings.code_prefix):])):
            return code
    return None
