"""What every service function needs: the hall's config, the database, a clock, the policy and a publisher."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from ..clock import Clock
from ..domain.calling import CallingPolicy
from ..domain.cases import CaseSettings
from ..domain.hall import HallConfig
from ..domain.hours import service_day
from ..domain.workdays import WorkCalendar
from .storage_health import StorageHealth

if TYPE_CHECKING:
    from ..hall_config import StationBinding
    from ..i18n import Texts
    from ..kiosk_config import KioskSetup
    from .stats import StatsCoalescer


@dataclass(frozen=True)
class Actor:
    """Who did something: a member of staff, a device, a kiosk, the system. Recorded with every transition."""

    kind: str  # staff | device | kiosk | citizen | system
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


SYSTEM = Actor("system", "onewindow")


class Publisher(Protocol):
    def publish(self, events: list[dict[str, Any]]) -> None: ...


class NullPublisher:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, events: list[dict[str, Any]]) -> None:
        self.published.extend(events)


@dataclass
class HallContext:
    config: HallConfig
    engine: Engine
    clock: Clock
    policy: CallingPolicy
    calendar: WorkCalendar
    publisher: Publisher
    person_secret: bytes
    always_open: bool = False  # demo mode: ignore business hours
    # Device stations from devices.toml (role, bound window); None: no devices file, stations unbound.
    stations: dict[str, StationBinding] | None = None
    # The case module's settings (cases.yaml), loaded and checked against the hall once, by whoever builds the
    # context (create_app: case_config.load_case_settings); None: the hall runs without the case module.
    case_settings: CaseSettings | None = None
    # Set by the server: queue figures published at most once a second per queue instead of inside every write.
    stats: StatsCoalescer | None = None
    storage: StorageHealth = field(default_factory=StorageHealth)  # this process's view of its database
    # Read once by create_app, so a broken file stops the start instead of a visitor's tap: the kiosk's flows,
    # search index and appointment rules (kiosk_config.py) and the citizen texts of config/i18n. None in a
    # context built without them (a command-line tool, a test of another area).
    kiosk: KioskSetup | None = None
    texts: Texts | None = None

    @property
    def hall_id(self) -> str:
        return self.config.hall.id

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.hall.timezone)

    def now(self) -> datetime:
        return self.clock.now()

    def local(self, moment: datetime | None = None) -> datetime:
        return (moment or self.now()).astimezone(self.tz)

    def today(self, moment: datetime | None = None) -> date:
        return service_day(self.local(moment), self.config.hall.rollover_at)

    def kiosk_setup(self) -> KioskSetup:
        if self.kiosk is None:
            raise RuntimeError("this hall context has no kiosk configuration; create_app loads it (load_kiosk)")
        return self.kiosk

    def citizen_texts(self) -> Texts:
        if self.texts is None:
            raise RuntimeError("this hall context has no citizen texts; create_app loads them (load_texts)")
        return self.texts

    def station_window(self, station: str) -> str | None:
        """The window a station serves, as configured (never as an agent claims)."""
        binding = (self.stations or {}).get(station)
        return binding.window_id if binding else None

    def window_station(self, window_id: str) -> str | None:
        """The configured station serving a window (its LED and evaluator pad)."""
        for name, binding in (self.stations or {}).items():
            if binding.window_id == window_id:
                return name
        return None

    def is_workday(self, day: date) -> bool:
        """The calendar's answer, or the configured weekdays for a year no calendar knows yet."""
        if self.calendar.knows(day):
            return self.calendar.is_workday(day)
        return day.isoweekday() in self.config.hours.weekdays
