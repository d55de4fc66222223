"""The simulated printer's mechanism: it works through the parsed job at its speed, uses up the paper roll, cuts (or
jams), answers ``GS r`` once everything before it has printed, and keeps the finished tickets."""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices.common.faults import FaultBoard
from devices.printer.escpos_events import Control, Event, StatusQuery, Unknown
from devices.printer.profile import PrinterProfile
from devices.printer.status import PrinterStatus, encode_paper_sensor
from devices.printer.ticket import Ticket
from devices.printer.transcript import TicketAssembler

log = logging.getLogger(__name__)

STEP_MM = 2.0  # the mechanism re-checks faults after at most this much paper when paced

_STOP = object()
_DROPPED = object()


class Mechanism:
    """The printing half of a simulated printer; :meth:`run` is its thread.

    ``cond`` is the simulator's one lock over the printer's whole state (the receiver answers ``DLE EOT`` from
    :meth:`status_locked` under it), so the attributes below are read and written only while holding it.
    ``reply(connection, data)`` sends a ``GS r`` answer to the host whose job asked for it, if it is still there.
    """

    def __init__(
        self,
        cond: threading.Condition,
        faults: FaultBoard,
        profile: PrinterProfile,
        *,
        speed_mm_s: float,
        paper_mm: float,
        near_end_mm: float,
        out_dir: Path | None,
        keep_tickets: int,
        on_ticket: Callable[[Ticket], None] | None,
        reply: Callable[[int, bytes], None],
    ) -> None:
        self._cond = cond
        self.faults = faults
        self.profile = profile
        self.speed_mm_s = speed_mm_s
        self.paper_mm = paper_mm
        self.near_end_mm = near_end_mm
        self.out_dir = out_dir
        self.on_ticket = on_ticket
        self._reply = reply
        self.paper_left_mm = paper_mm
        self.fed_mm = 0.0
        self.cutter_error = False
        self.pending = 0  # events queued or being printed
        self.ticket_count = 0
        self.unknown_bytes = 0
        self._tickets: collections.deque[Ticket] = collections.deque(maxlen=keep_tickets)
        self._closing = False
        self._assembler = TicketAssembler(profile.paper_width_dots)
        self._jobs: queue.Queue[Any] = queue.Queue()

    # ----------------------------------------------------------------------------------- jobs in

    def enqueue(self, connection: int, event: Event) -> None:
        """Queue an event received on ``connection`` (a number the simulator gives each host connection)."""
        self._put((connection, event))

    def connection_dropped(self) -> None:
        """The connection died mid-ticket: the ticket so far comes out without its cut, after what is queued."""
        self._put(_DROPPED)

    def stop(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._jobs.put(_STOP)

    def _put(self, item: Any) -> None:
        with self._cond:
            self.pending += 1
        self._jobs.put(item)

    # ----------------------------------------------------------------------------------- state

    def fault_changed(self, name: str, on: bool) -> None:
        with self._cond:
            if name == "cutter_jam" and not on:
                self.cutter_error = False  # the technician cleared the jam

    def reload_paper(self, length_mm: float | None = None) -> None:
        """A new roll: the paper-out condition (real or injected) clears and printing resumes."""
        if length_mm is not None and not length_mm > 0:
            raise ValueError(f"length_mm must be > 0, got {length_mm}")
        with self._cond:
            if length_mm is not None:
                self.paper_mm = float(length_mm)
            self.paper_left_mm = self.paper_mm
            self.faults.set("paper_out", False)

    def status_locked(self) -> PrinterStatus:
        """What the printer would report now (call holding ``cond``)."""
        out = self.faults.active("paper_out") or self.paper_left_mm <= 0
        cover = self.faults.active("cover_open")
        cutter = self.cutter_error
        return PrinterStatus(
            online=not (out or cover or cutter),
            cover_open=cover,
            feed_button=False,
            stopped_at_paper_end=out,
            error=cutter,
            cutter_error=cutter,
            unrecoverable_error=False,
            recoverable_error=False,
            paper_near_end=out or self.paper_left_mm <= self.near_end_mm,
            paper_out=out,
        )

    def halted_locked(self) -> str | None:
        """Why the mechanism cannot move now, or None (call holding ``cond``)."""
        if self.faults.active("offline"):
            return "offline"
        if self.faults.active("cover_open"):
            return "cover open"
        if self.faults.active("paper_out") or self.paper_left_mm <= 0:
            return "paper out"
        if self.cutter_error:
            return "cutter jammed"
        return None

    @property
    def tickets(self) -> list[Ticket]:
        """Finished tickets, oldest first (the last ``keep_tickets``)."""
        with self._cond:
            return list(self._tickets)

    def latest(self) -> tuple[int, Ticket | None]:
        """How many tickets have been finished in total, and the last one."""
        with self._cond:
            return self.ticket_count, self._tickets[-1] if self._tickets else None

    def wait_for_tickets(self, count: int, timeout: float = 5.0) -> list[Ticket]:
        """Block until ``count`` tickets have been finished in total; returns the kept tickets."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.ticket_count < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.ticket_count} of {count} tickets printed after {timeout} s")
                self._cond.wait(left)
            return list(self._tickets)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until everything received so far has been printed (or raise TimeoutError)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"still printing after {timeout} s ({self.halted_locked() or 'busy'})")
                self._cond.wait(left)

    # ----------------------------------------------------------------------------------- printing

    def run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is _STOP:
                return
            try:
                self._print(item)
            except Exception:  # a malformed job must not stop the printer
                log.exception("printer mechanism failed on an event")
            finally:
                with self._cond:
                    self.pending -= 1
                    self._cond.notify_all()

    def _print(self, item: Any) -> None:
        if item is _DROPPED:
            ticket = self._assembler.abort("connection dropped mid-ticket")
            if ticket is not None:
                self._finish(ticket)
            return
        connection, event = item
        if isinstance(event, StatusQuery):  # GS r: answered once everything before it has printed
            if not self._wait_until_running():
                return
            with self._cond:
                status = self.status_locked()
            if event.n == 1:
                sensor = encode_paper_sensor(bool(status.paper_near_end), bool(status.paper_out))
                self._reply(connection, bytes([sensor]))
            else:
                self._reply(connection, b"\x00")  # GS r 2: drawer kick connector low
            return
        if isinstance(event, Control) and event.name == "cut":
            if not self._wait_until_running():
                return
            with self._cond:
                if self.faults.active("cutter_jam"):
                    self.cutter_error = True
                    log.info("printer: cutter jammed")
            if not self._wait_until_running():
                return
        if isinstance(event, Unknown):
            with self._cond:
                self.unknown_bytes += len(event.data)
        applied = self._assembler.apply(event)
        self._feed_paper(applied.dots / self.profile.dots_per_mm)
        if applied.ticket is not None:
            self._finish(applied.ticket)

    def _wait_until_running(self) -> bool:
        """Wait while printing is halted; False if the simulator is closing."""
        with self._cond:
            while not self._closing and self.halted_locked():
                self._cond.wait(0.1)
            return not self._closing

    def _feed_paper(self, mm: float) -> None:
        while mm > 1e-9:
            if not self._wait_until_running():
                return
            with self._cond:
                speed = self.faults.value("slow") or self.speed_mm_s
                step = min(mm, self.paper_left_mm)
                if speed > 0:
                    step = min(step, STEP_MM)
            if speed > 0:
                time.sleep(step / speed)
            with self._cond:
                self.paper_left_mm = max(0.0, self.paper_left_mm - step)
                self.fed_mm += step
                if self.paper_left_mm <= 0:
                    log.info("printer: paper ran out")
                self._cond.notify_all()
            mm -= step

    def _finish(self, ticket: Ticket) -> None:
        if self.out_dir is not None:
            stem = self.out_dir / f"ticket-{ticket.index:04d}"
            try:
                stem.with_suffix(".png").write_bytes(ticket.png())
                stem.with_suffix(".txt").write_text(ticket.transcript + "\n", encoding="utf-8")
            except OSError as exc:
                log.warning("printer: cannot save ticket %d: %s", ticket.index, exc)
        with self._cond:
            self._tickets.append(ticket)
            self.ticket_count += 1
            self._cond.notify_all()
        if self.on_ticket is not None:
            try:
                self.on_ticket(ticket)
            except Exception:
                log.exception("printer: on_ticket callback failed")
