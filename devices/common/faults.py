"""One fault board for every simulator: which faults a device knows, which are on, for how long, how strong.

A fault is a flag (``paper_out``) or carries a number (``slow``: seconds, or mm/s for a printer). It is on until
switched off, or for ``count`` occurrences: the simulator :meth:`~FaultBoard.take`\\ s one each time the fault
fires. The control channel (``fault NAME on|off [VALUE] [count=N]``) and the Python API set faults the same way.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from devices.common.control import ControlError


@dataclass(frozen=True)
class FaultSpec:
    """A fault a device knows. ``unit`` set means it carries a number in ``low..high`` (``default`` when omitted;
    no default means the number is required)."""

    name: str
    unit: str | None = None
    default: float | None = None
    low: float = 0.0
    high: float = math.inf
    low_inclusive: bool = True


@dataclass
class _Active:
    value: float | None
    remaining: int | None


OnChange = Callable[[str, bool], None]


class FaultBoard:
    """The faults that are on. Thread-safe; ``on_change(name, on)`` runs after every change, outside the lock."""

    def __init__(self, specs: Iterable[FaultSpec | str], on_change: OnChange | None = None) -> None:
        self.specs = {s.name: s for s in (FaultSpec(x) if isinstance(x, str) else x for x in specs)}
        self._on_change = on_change
        self._lock = threading.Lock()
        self._active: dict[str, _Active] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.specs)

    def set(self, name: str, on: bool = True, *, count: int | None = None, value: float | None = None) -> str:
        """Switch a fault on (until switched off, or for ``count`` occurrences) or off; returns what was done."""
        spec = self.specs.get(name)
        if spec is None:
            raise ControlError(f"unknown fault {name!r}; faults: {', '.join(self.specs)}")
        if not isinstance(on, bool):
            raise ControlError(f'"on" must be true or false, e.g. fault {name} on; got {on!r}')
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise ControlError(f"count must be a whole number of occurrences >= 1, got {count!r}")
        if on:
            value = self._checked_value(spec, value)
        with self._lock:
            if on:
                self._active[name] = _Active(value, count)
            else:
                self._active.pop(name, None)
        if self._on_change is not None:
            self._on_change(name, on)
        if not on:
            return f"fault {name} off"
        shown = "" if value is None else f" ({value:g} {spec.unit})"
        return f"fault {name} on{shown}" + (f" for {count} occurrence(s)" if count else "")

    @staticmethod
    def _checked_value(spec: FaultSpec, value: Any) -> float | None:
        if spec.unit is None:
            if value is not None:
                raise ControlError(f"fault {spec.name} takes no value")
            return None
        if value is None:
            value = spec.default
        bound = ">=" if spec.low_inclusive else ">"
        limits = f"{bound} {spec.low:g}" + ("" if spec.high == math.inf else f" and <= {spec.high:g}")
        if value is None:
            raise ControlError(f"fault {spec.name} needs a value in {spec.unit} ({limits}), "
                               f"e.g. fault {spec.name} on 20")
        ok = not isinstance(value, bool) and isinstance(value, int | float)
        if not ok or not (value >= spec.low if spec.low_inclusive else value > spec.low) or value > spec.high:
            raise ControlError(f"fault {spec.name} needs a value in {spec.unit} {limits}, got {value!r}")
        return float(value)

    def active(self, name: str) -> bool:
        with self._lock:
            return name in self._active

    def value(self, name: str) -> float | None:
        """The fault's number while it is on; None when it is off (or carries none)."""
        with self._lock:
            fault = self._active.get(name)
            return None if fault is None else fault.value

    def take(self, name: str) -> bool:
        """Whether the fault fires now; a counted fault uses up one occurrence (and ends after its last)."""
        return self.take_value(name)[0]

    def take_value(self, name: str) -> tuple[bool, float | None]:
        """:meth:`take`, also returning the fault's number."""
        with self._lock:
            fault = self._active.get(name)
            if fault is None:
                return False, None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._active[name]
            return True, fault.value

    def clear(self) -> None:
        with self._lock:
            names = list(self._active)
            self._active.clear()
        for name in names:
            if self._on_change is not None:
                self._on_change(name, False)

    def status(self) -> dict[str, dict[str, Any]]:
        """The faults that are on: ``{name: {"value": ..., "remaining": ...}}``."""
        with self._lock:
            return {k: {"value": f.value, "remaining": f.remaining} for k, f in self._active.items()}
