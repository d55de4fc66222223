"""The printer's side of the wire: an 80 mm ESC/POS ticket printer on TCP (like port 9100) or on a pty.

Two threads model the two halves of a real printer:

* the **receiver** (here) reads bytes as they arrive (:mod:`devices.printer.sim_links`), parses them
  (:mod:`devices.printer.escpos_parser`) and answers ``DLE EOT n`` at once from the current state, even in the
  middle of a job or while printing is halted;
* the **mechanism** (:mod:`devices.printer.sim_mechanism`) works through the parsed job at ``speed_mm_s``
  (0 = instantly), uses up the paper roll, cuts, and answers ``GS r 1`` only when it reaches it, so that reply means
  "everything before it is printed".

Each cut closes a ticket: a transcript and a PNG (kept in memory; written to ``out_dir`` if given).

Faults, injectable while it runs (:meth:`PrinterSimulator.set_fault` or the control channel):

========== ================================================================================================
cover_open printing halts; status: offline, cover open
paper_out  the paper sensor reports no paper; printing halts (also happens for real when the roll runs out)
cutter_jam the next cut jams: printing halts with an autocutter error until the fault is cleared
offline    the printer hangs: no printing, and no answer to anything, status requests included
slow       the mechanism runs at the fault's value in mm/s instead of the configured speed
drop       the connection dies mid-ticket, after the ticket's first printed line: on TCP the socket is reset;
           on a pty the line goes dead (everything is ignored, nothing answered) until the fault is cleared.
           The partial ticket is kept, marked as not cut.
========== ================================================================================================

An incomplete command followed by ``receive_timeout_s`` of silence is dropped (and reported in the ticket), so
garbage on a serial line, which is never reconnected, cannot swallow the next job.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices.common.control import Command, ControlError, ControlServer, ControlTable
from devices.common.faults import FaultBoard, FaultSpec
from devices.common.pty import PtyEndpoint
from devices.printer.escpos_events import Control, Event, LineFeed, Raster, StatusQuery
from devices.printer.escpos_parser import EscPosParser
from devices.printer.profile import PrinterProfile, get_profile
from devices.printer.sim_links import Link, PtyLink, TcpLink
from devices.printer.sim_mechanism import Mechanism
from devices.printer.status import PrinterStatus, decode_status, encode_status
from devices.printer.ticket import Ticket

log = logging.getLogger(__name__)

FAULTS = (FaultSpec("cover_open"), FaultSpec("paper_out"), FaultSpec("cutter_jam"), FaultSpec("offline"),
          FaultSpec("slow", "mm/s", low=0, low_inclusive=False), FaultSpec("drop"))
DEFAULT_PAPER_MM = 50_000.0  # a 50 m roll


class PrinterSimulator:
    """A simulated ticket printer. ``start()`` it, give a driver :attr:`url`, inject faults, read its tickets."""

    def __init__(
        self,
        *,
        transport: str = "tcp",
        port: int = 0,
        profile: PrinterProfile | str | None = None,
        speed_mm_s: float = 0.0,
        paper_mm: float = DEFAULT_PAPER_MM,
        near_end_mm: float | None = None,
        out_dir: str | Path | None = None,
        keep_tickets: int = 100,
        on_ticket: Callable[[Ticket], None] | None = None,
        control: bool = True,
        receive_timeout_s: float = 1.0,
    ) -> None:
        if transport not in ("tcp", "pty"):
            raise ValueError(f"transport must be 'tcp' or 'pty', got {transport!r}")
        if speed_mm_s < 0:
            raise ValueError(f"speed_mm_s must be >= 0 (0 = instant), got {speed_mm_s}")
        if paper_mm <= 0:
            raise ValueError(f"paper_mm must be > 0, got {paper_mm}")
        self.transport = transport
        self.profile = get_profile(profile)
        self._port = port
        self._with_control = control  # the control channel's shutdown takes up to 0.5 s; tests may skip it
        # An incomplete command followed by this much silence is dropped, so garbage on a serial line (which,
        # unlike TCP, is never reconnected) cannot swallow the next job whole.
        self.receive_timeout_s = receive_timeout_s

        self._cond = threading.Condition()  # one lock over the whole printer, receiver and mechanism alike
        self.faults = FaultBoard(FAULTS, on_change=self._fault_changed)
        self.controls = ControlTable({
            "reload_paper": Command(self._ctl_reload_paper, "reload_paper [length_mm=L]"),
            "tickets": Command(self._ctl_tickets, "tickets"),
        }, status=self.describe, faults=self.faults, after_fault=lambda _text: self.describe())
        self._mechanism = Mechanism(
            self._cond,
            self.faults,
            self.profile,
            speed_mm_s=float(speed_mm_s),
            paper_mm=float(paper_mm),
            # Real near-end sensors trip with a few metres left; by default, the last tenth of the roll.
            near_end_mm=float(near_end_mm) if near_end_mm is not None else float(paper_mm) / 10,
            out_dir=Path(out_dir) if out_dir is not None else None,
            keep_tickets=keep_tickets,
            on_ticket=on_ticket,
            reply=self._reply_in_order,
        )
        self._line_dead = False
        self._closing = False
        self._generation = 0  # bumped per connection, so late replies never reach a newer host
        self._link: Link | None = None
        self._client_connected = False
        self.bytes_received = 0
        self.last_rx_at = 0.0  # time.perf_counter() of the last byte received
        # perf_counter() at which each ticket's cut command arrived: its last byte on the wire (for benchmarks)
        self.cut_received_at: collections.deque[float] = collections.deque(maxlen=1000)

        self._parser = EscPosParser(chinese=self.profile.chinese)
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._pty: PtyEndpoint | None = None
        self._control: ControlServer | None = None
        self.url = ""

    # ----------------------------------------------------------------------------------- lifecycle

    def start(self) -> PrinterSimulator:
        if self._threads:
            raise RuntimeError("this printer simulator is already running")
        out_dir = self._mechanism.out_dir
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
        if self.transport == "tcp":
            self._listener = socket.create_server(("127.0.0.1", self._port))
            self._listener.settimeout(0.1)
            self.url = f"tcp://127.0.0.1:{self._listener.getsockname()[1]}"
            receiver = self._serve_tcp
        else:
            self._pty = PtyEndpoint()
            self.url = self._pty.path
            receiver = self._serve_pty
        if self._with_control:
            self._control = ControlServer(self.handle_control).start()
        for target, name in ((receiver, "printer-rx"), (self._mechanism.run, "printer-mech")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    @property
    def control_url(self) -> str:
        if self._control is None:
            raise RuntimeError("the control channel is not running: start() a simulator made with control=True")
        return self._control.url

    def close(self) -> None:
        with self._cond:
            if self._closing:
                return
            self._closing = True
        self._mechanism.stop()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() now rather than at its timeout
            self._listener.close()
        link = self._link
        if link is not None:
            link.wake()
        for thread in self._threads:
            thread.join(timeout=2)
        if self._link is not None:
            self._link.close()
        if self._control is not None:
            self._control.close()
        if self._pty is not None:
            self._pty.close()

    def __enter__(self) -> PrinterSimulator:
        return self if self._threads else self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------------- faults and state

    def set_fault(self, name: str, on: bool = True, *, count: int | None = None, value: float | None = None) -> str:
        """Switch a fault on or off; ``slow`` takes its speed in mm/s as ``value``."""
        done = self.faults.set(name, on, count=count, value=value)
        log.info("printer %s", done)
        return done

    def _fault_changed(self, name: str, on: bool) -> None:
        with self._cond:
            self._mechanism.fault_changed(name, on)
            if name == "drop" and not on:
                self._line_dead = False
            self._cond.notify_all()

    def disconnect(self) -> None:
        """Close the host's TCP connection, as network printers do after an idle timeout (no-op on a pty)."""
        with self._cond:
            link = self._link if self.transport == "tcp" else None
        if link is not None:
            link.wake()

    def reload_paper(self, length_mm: float | None = None) -> None:
        """A new roll: the paper-out condition (real or injected) clears and printing resumes."""
        self._mechanism.reload_paper(length_mm)

    def status(self) -> PrinterStatus:
        """What a host reading DLE EOT 1-4 would learn right now (if the printer answered at all)."""
        with self._cond:
            state = self._mechanism.status_locked()
        # Round-trip through the wire bytes, so this is exactly what a driver decodes.
        answered = PrinterStatus()
        for n in (1, 2, 3, 4):
            answered = answered.merge(decode_status(n, encode_status(n, state)))
        return answered

    @property
    def paper_left_mm(self) -> float:
        with self._cond:
            return self._mechanism.paper_left_mm

    @property
    def tickets(self) -> list[Ticket]:
        """Finished tickets, oldest first (the last ``keep_tickets``)."""
        return self._mechanism.tickets

    @property
    def ticket_count(self) -> int:
        with self._cond:
            return self._mechanism.ticket_count

    def describe(self) -> dict[str, Any]:
        """State for the control channel's ``status`` command."""
        status = self.status()
        mechanism = self._mechanism
        with self._cond:
            return {
                "state": status.state.value,
                "answering": not (self.faults.active("offline") or self._line_dead),
                "halted": mechanism.halted_locked(),
                "busy": mechanism.pending > 0,  # received data not yet printed
                "status": status.to_dict(),
                "faults": self.faults.status(),
                "slow_mm_s": self.faults.value("slow"),
                "speed_mm_s": mechanism.speed_mm_s,
                "paper_mm": mechanism.paper_mm,
                "paper_left_mm": round(mechanism.paper_left_mm, 1),
                "fed_mm": round(mechanism.fed_mm, 1),
                "tickets": mechanism.ticket_count,
                "client_connected": self._client_connected if self.transport == "tcp" else None,
                "bytes_received": self.bytes_received,
                "unknown_bytes": mechanism.unknown_bytes,
                "profile": self.profile.name,
                "url": self.url,
            }

    def wait_for_tickets(self, count: int, timeout: float = 5.0) -> list[Ticket]:
        """Block until ``count`` tickets have been finished in total; returns the kept tickets."""
        return self._mechanism.wait_for_tickets(count, timeout)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until everything received so far has been printed (or raise TimeoutError)."""
        self._mechanism.wait_idle(timeout)

    # ----------------------------------------------------------------------------------- control channel

    def handle_control(self, request: dict[str, Any]) -> dict[str, Any]:
        """Serve one control-channel request (see the module docstring for the faults)."""
        return self.controls.handle(request)

    def _ctl_reload_paper(self, request: dict[str, Any], _args: list[Any]) -> dict[str, Any]:
        length = request.get("length_mm")
        if length is not None and (isinstance(length, bool) or not isinstance(length, int | float) or length <= 0):
            raise ControlError('"length_mm" must be a number > 0')
        self.reload_paper(length)
        return self.describe()

    def _ctl_tickets(self, _request: dict[str, Any], _args: list[Any]) -> dict[str, Any]:
        count, last = self._mechanism.latest()
        return {
            "count": count,
            "last": None if last is None else {
                "index": last.index,
                "complete": last.complete,
                "text": last.text,
                "transcript": last.transcript,
                "qr": last.qr_payloads,
                "length_mm": round(last.height_dots / self.profile.dots_per_mm, 1),
            },
        }

    # ----------------------------------------------------------------------------------- receiver

    def _serve_tcp(self) -> None:
        assert self._listener is not None
        while not self._closing:
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._serve_link(TcpLink(sock))

    def _serve_pty(self) -> None:
        assert self._pty is not None
        self._serve_link(PtyLink(self._pty))

    def _serve_link(self, link: Link) -> None:
        with self._cond:
            self._generation += 1
            generation = self._generation
            self._link = link
            self._client_connected = True
        self._parser.reset_input()  # half a command from the previous host means nothing now
        last_data = time.monotonic()
        try:
            while not self._closing:
                data = link.recv(0.1)
                if data is None:
                    break
                if data:
                    last_data = time.monotonic()
                    if not self._received(data, link, generation):
                        break
                elif self._parser.pending and time.monotonic() - last_data >= self.receive_timeout_s:
                    for event in self._parser.flush():  # reported in the ticket as an abandoned command
                        self._mechanism.enqueue(generation, event)
        finally:
            with self._cond:
                self._client_connected = False
            link.close()

    def _received(self, data: bytes, link: Link, generation: int) -> bool:
        """Handle bytes from the host; False when the connection has been dropped."""
        with self._cond:
            self.last_rx_at = time.perf_counter()
            dead = self._line_dead
        try:
            if not dead:
                return self._parse_and_queue(data, link, generation)
            return True
        finally:
            with self._cond:
                # Counted once parsed and queued, so "all bytes received" implies wait_idle() covers them.
                self.bytes_received += len(data)

    def _parse_and_queue(self, data: bytes, link: Link, generation: int) -> bool:
        for event in self._parser.feed(data):
            if isinstance(event, StatusQuery) and event.command == "dle_eot":
                self._answer_realtime(event.n, link)
                continue
            self._mechanism.enqueue(generation, event)
            if isinstance(event, Control) and event.name == "cut":
                self.cut_received_at.append(self.last_rx_at)
            with self._cond:
                # Let the first line of the ticket reach the paper, then die: a ticket torn off mid-way.
                dropping = self.faults.active("drop") and _completes_a_line(event)
                if dropping:
                    self._line_dead = self.transport == "pty"
            if dropping:
                log.info("printer: dropping the connection mid-ticket (drop fault)")
                self._parser.reset_input()
                self._mechanism.connection_dropped()
                link.abort()
                return self.transport == "pty"
        return True

    def _answer_realtime(self, n: int, link: Link) -> None:
        with self._cond:
            if self.faults.active("offline") or self._line_dead:
                return
            reply = encode_status(n, self._mechanism.status_locked())
        link.send(bytes([reply]))

    def _reply_in_order(self, generation: int, data: bytes) -> None:
        """Send the mechanism's answer to a GS r request, unless its host has gone (or the line is dead)."""
        with self._cond:
            link = self._link if generation == self._generation and not self._line_dead else None
        if link is not None:
            link.send(data)


def _completes_a_line(event: Event) -> bool:
    return isinstance(event, LineFeed | Raster) or (
        isinstance(event, Control) and event.name in ("qr_print", "cut", "feed_lines", "feed_dots")
    )
