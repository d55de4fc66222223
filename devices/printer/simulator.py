"""The printer's side of the wire: an 80 mm ESC/POS ticket printer on TCP (like port 9100) or on a pty.

Two threads model the two halves of a real printer:

* the **receiver** reads bytes as they arrive, parses them (:mod:`devices.printer.transcript`) and answers
  ``DLE EOT n`` at once from the current state, even in the middle of a job or while printing is halted;
* the **mechanism** works through the parsed job at ``speed_mm_s`` (0 = instantly), uses up the paper roll,
  cuts, and answers ``GS r 1`` only when it reaches it, so that reply means "everything before it is printed".

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
import os
import queue
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices.common.control import Command, ControlError, ControlServer, ControlTable
from devices.common.faults import FaultBoard, FaultSpec
from devices.common.pty import PtyEndpoint
from devices.printer.escpos_events import Control, Event, LineFeed, Raster, StatusQuery, Unknown
from devices.printer.escpos_parser import EscPosParser
from devices.printer.profile import PrinterProfile, get_profile
from devices.printer.status import PrinterStatus, decode_status, encode_paper_sensor, encode_status
from devices.printer.ticket import Ticket
from devices.printer.transcript import TicketAssembler

log = logging.getLogger(__name__)

FAULTS = (FaultSpec("cover_open"), FaultSpec("paper_out"), FaultSpec("cutter_jam"), FaultSpec("offline"),
          FaultSpec("slow", "mm/s", low=0, low_inclusive=False), FaultSpec("drop"))
DEFAULT_PAPER_MM = 50_000.0  # a 50 m roll
STEP_MM = 2.0  # the mechanism re-checks faults after at most this much paper when paced

_STOP = object()
_DROPPED = object()


class _TcpLink:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(1.0)  # a reply must never wedge the simulator behind a client that stopped reading
        self._send_lock = threading.Lock()

    def recv(self, timeout: float) -> bytes | None:
        """Bytes, b"" after ``timeout`` with nothing, None when the peer has gone."""
        try:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                return b""
            data = self.sock.recv(65536)
        except (OSError, ValueError):
            return None
        return data or None

    def send(self, data: bytes) -> None:
        # An OSError means the host went away: the reply has nowhere to go.
        with self._send_lock, contextlib.suppress(OSError):
            self.sock.sendall(data)

    def wake(self) -> None:
        """Make a pending recv() return at once (the simulator is closing)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def abort(self) -> None:
        """Reset the connection (RST), as a printer losing power or its network would."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class _PtyLink:
    def __init__(self, endpoint: PtyEndpoint) -> None:
        self.endpoint = endpoint
        # Non-blocking master: if the host never reads, replies are dropped instead of blocking the receiver.
        os.set_blocking(endpoint.master_fd, False)
        self._send_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._wake_fds: tuple[int, ...] = (self._wake_r, self._wake_w)

    def recv(self, timeout: float) -> bytes | None:
        try:
            ready, _, _ = select.select([self.endpoint.master_fd, self._wake_r], [], [], timeout)
            if self._wake_r in ready:
                return None
            return self.endpoint.read(65536, timeout=0) if ready else b""
        except (OSError, ValueError):
            return None

    def wake(self) -> None:
        with self._send_lock, contextlib.suppress(OSError):
            if self._wake_fds:
                os.write(self._wake_w, b"x")

    def send(self, data: bytes) -> None:
        # BlockingIOError (an OSError) means the host is not reading its replies: drop them.
        with self._send_lock, contextlib.suppress(OSError):
            os.write(self.endpoint.master_fd, data)

    def abort(self) -> None:
        pass  # a serial line cannot be "closed" from the device end; the simulator goes deaf instead

    def close(self) -> None:
        # Called by the receiver and by close(): closing the pipe's fd numbers twice could close someone else's.
        with self._send_lock:
            fds, self._wake_fds = self._wake_fds, ()
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


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
        self.speed_mm_s = float(speed_mm_s)
        self.paper_mm = float(paper_mm)
        # Real near-end sensors trip with a few metres left; by default, the last tenth of the roll.
        self.near_end_mm = float(near_end_mm) if near_end_mm is not None else self.paper_mm / 10
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.on_ticket = on_ticket
        self._port = port
        self._with_control = control  # the control channel's shutdown takes up to 0.5 s; tests may skip it
        # An incomplete command followed by this much silence is dropped, so garbage on a serial line (which,
        # unlike TCP, is never reconnected) cannot swallow the next job whole.
        self.receive_timeout_s = receive_timeout_s

        self._cond = threading.Condition()
        self.faults = FaultBoard(FAULTS, on_change=self._fault_changed)
        self.controls = ControlTable({
            "reload_paper": Command(self._ctl_reload_paper, "reload_paper [length_mm=L]"),
            "tickets": Command(self._ctl_tickets, "tickets"),
        }, status=self.describe, faults=self.faults, after_fault=lambda _text: self.describe())
        self._paper_left_mm = self.paper_mm
        self._fed_mm = 0.0
        self._cutter_error = False
        self._line_dead = False
        self._closing = False
        self._tickets: collections.deque[Ticket] = collections.deque(maxlen=keep_tickets)
        self._ticket_count = 0
        self._pending = 0  # events queued or being printed
        self._generation = 0  # bumped per connection, so late replies never reach a newer host
        self._link: _TcpLink | _PtyLink | None = None
        self._client_connected = False
        self.bytes_received = 0
        self.last_rx_at = 0.0  # time.perf_counter() of the last byte received
        # perf_counter() at which each ticket's cut command arrived: its last byte on the wire (for benchmarks)
        self.cut_received_at: collections.deque[float] = collections.deque(maxlen=1000)
        self.unknown_bytes = 0

        self._parser = EscPosParser(chinese=self.profile.chinese)
        self._assembler = TicketAssembler(self.profile.paper_width_dots)
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._pty: PtyEndpoint | None = None
        self._control: ControlServer | None = None
        self.url = ""

    # ----------------------------------------------------------------------------------- lifecycle

    def start(self) -> PrinterSimulator:
        if self._threads:
            raise RuntimeError("this printer simulator is already running")
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
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
        for target, name in ((receiver, "printer-rx"), (self._mechanism, "printer-mech")):
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
            self._cond.notify_all()
        self._jobs.put(_STOP)
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
            if name == "cutter_jam" and not on:
                self._cutter_error = False  # the technician cleared the jam
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
        if length_mm is not None and not length_mm > 0:
            raise ValueError(f"length_mm must be > 0, got {length_mm}")
        with self._cond:
            if length_mm is not None:
                self.paper_mm = float(length_mm)
            self._paper_left_mm = self.paper_mm
            self.faults.set("paper_out", False)

    def status(self) -> PrinterStatus:
        """What a host reading DLE EOT 1-4 would learn right now (if the printer answered at all)."""
        with self._cond:
            state = self._status_locked()
        # Round-trip through the wire bytes, so this is exactly what a driver decodes.
        answered = PrinterStatus()
        for n in (1, 2, 3, 4):
            answered = answered.merge(decode_status(n, encode_status(n, state)))
        return answered

    def _status_locked(self) -> PrinterStatus:
        out = self.faults.active("paper_out") or self._paper_left_mm <= 0
        cover = self.faults.active("cover_open")
        cutter = self._cutter_error
        return PrinterStatus(
            online=not (out or cover or cutter),
            cover_open=cover,
            feed_button=False,
            stopped_at_paper_end=out,
            error=cutter,
            cutter_error=cutter,
            unrecoverable_error=False,
            recoverable_error=False,
            paper_near_end=out or self._paper_left_mm <= self.near_end_mm,
            paper_out=out,
        )

    def _halted_locked(self) -> str | None:
        """Why the mechanism cannot move now, or None."""
        if self.faults.active("offline"):
            return "offline"
        if self.faults.active("cover_open"):
            return "cover open"
        if self.faults.active("paper_out") or self._paper_left_mm <= 0:
            return "paper out"
        if self._cutter_error:
            return "cutter jammed"
        return None

    @property
    def paper_left_mm(self) -> float:
        with self._cond:
            return self._paper_left_mm

    @property
    def tickets(self) -> list[Ticket]:
        """Finished tickets, oldest first (the last ``keep_tickets``)."""
        with self._cond:
            return list(self._tickets)

    @property
    def ticket_count(self) -> int:
        with self._cond:
            return self._ticket_count

    def describe(self) -> dict[str, Any]:
        """State for the control channel's ``status`` command."""
        status = self.status()
        with self._cond:
            return {
                "state": status.state.value,
                "answering": not (self.faults.active("offline") or self._line_dead),
                "halted": self._halted_locked(),
                "busy": self._pending > 0,  # received data not yet printed
                "status": status.to_dict(),
                "faults": self.faults.status(),
                "slow_mm_s": self.faults.value("slow"),
                "speed_mm_s": self.speed_mm_s,
                "paper_mm": self.paper_mm,
                "paper_left_mm": round(self._paper_left_mm, 1),
                "fed_mm": round(self._fed_mm, 1),
                "tickets": self._ticket_count,
                "client_connected": self._client_connected if self.transport == "tcp" else None,
                "bytes_received": self.bytes_received,
                "unknown_bytes": self.unknown_bytes,
                "profile": self.profile.name,
                "url": self.url,
            }

    def wait_for_tickets(self, count: int, timeout: float = 5.0) -> list[Ticket]:
        """Block until ``count`` tickets have been finished in total; returns the kept tickets."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._ticket_count < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._ticket_count} of {count} tickets printed after {timeout} s")
                self._cond.wait(left)
            return list(self._tickets)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until everything received so far has been printed (or raise TimeoutError)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"still printing after {timeout} s ({self._halted_locked() or 'busy'})")
                self._cond.wait(left)

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
        with self._cond:
            last = self._tickets[-1] if self._tickets else None
            count = self._ticket_count
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
            self._serve_link(_TcpLink(sock))

    def _serve_pty(self) -> None:
        assert self._pty is not None
        self._serve_link(_PtyLink(self._pty))

    def _serve_link(self, link: _TcpLink | _PtyLink) -> None:
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
                        self._enqueue((generation, event))
        finally:
            with self._cond:
                self._client_connected = False
            link.close()

    def _received(self, data: bytes, link: _TcpLink | _PtyLink, generation: int) -> bool:
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

    def _parse_and_queue(self, data: bytes, link: _TcpLink | _PtyLink, generation: int) -> bool:
        for event in self._parser.feed(data):
            if isinstance(event, StatusQuery) and event.command == "dle_eot":
                self._answer_realtime(event.n, link)
                continue
            self._enqueue((generation, event))
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
                self._enqueue(_DROPPED)
                link.abort()
                return self.transport == "pty"
        return True

    def _answer_realtime(self, n: int, link: _TcpLink | _PtyLink) -> None:
        with self._cond:
            if self.faults.active("offline") or self._line_dead:
                return
            reply = encode_status(n, self._status_locked())
        link.send(bytes([reply]))

    def _enqueue(self, item: Any) -> None:
        with self._cond:
            self._pending += 1
        self._jobs.put(item)

    # ----------------------------------------------------------------------------------- mechanism

    def _mechanism(self) -> None:
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
                    self._pending -= 1
                    self._cond.notify_all()

    def _print(self, item: Any) -> None:
        if item is _DROPPED:
            ticket = self._assembler.abort("connection dropped mid-ticket")
            if ticket is not None:
                self._finish(ticket)
            return
        generation, event = item
        if isinstance(event, StatusQuery):  # GS r: answered once everything before it has printed
            if not self._wait_until_running():
                return
            with self._cond:
                status = self._status_locked()
                link = self._link if generation == self._generation and not self._line_dead else None
            if link is not None and event.n == 1:
                link.send(bytes([encode_paper_sensor(bool(status.paper_near_end), bool(status.paper_out))]))
            elif link is not None:
                link.send(b"\x00")  # GS r 2: drawer kick connector low
            return
        if isinstance(event, Control) and event.name == "cut":
            if not self._wait_until_running():
                return
            with self._cond:
                if self.faults.active("cutter_jam"):
                    self._cutter_error = True
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
            while not self._closing and self._halted_locked():
                self._cond.wait(0.1)
            return not self._closing

    def _feed_paper(self, mm: float) -> None:
        while mm > 1e-9:
            if not self._wait_until_running():
                return
            with self._cond:
                speed = self.faults.value("slow") or self.speed_mm_s
                step = min(mm, self._paper_left_mm)
                if speed > 0:
                    step = min(step, STEP_MM)
            if speed > 0:
                time.sleep(step / speed)
            with self._cond:
                self._paper_left_mm = max(0.0, self._paper_left_mm - step)
                self._fed_mm += step
                if self._paper_left_mm <= 0:
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
            self._ticket_count += 1
            self._cond.notify_all()
        if self.on_ticket is not None:
            try:
                self.on_ticket(ticket)
            except Exception:
                log.exception("printer: on_ticket callback failed")


def _completes_a_line(event: Event) -> bool:
    return isinstance(event, LineFeed | Raster) or (
        isinstance(event, Control) and event.name in ("qr_print", "cut", "feed_lines", "feed_dots")
    )
