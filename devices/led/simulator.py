"""LED screens on one simulated RS-485 line: each answers only its own address and keeps what it shows.

Faults (per screen, or for every screen on the line): ``no_answer`` (unpowered: neither acts nor answers),
``crc_error`` (acts, but its reply's CRC is wrong), ``garbage`` (noise bytes before each reply), ``slow``
(replies after ``value`` seconds), ``module_fault`` (a dead LED module, reported in STATUS flags).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devices.common.control import Command as ControlCommand
from devices.common.control import ControlError, ControlTable, fault_request
from devices.common.faults import FaultBoard, FaultSpec
from devices.common.pty import PtyEndpoint
from devices.common.simthread import ThreadedSimulator
from devices.led import codec
from devices.led.codec import BROADCAST, Command, Frame, NakCode, ScreenContent, ScreenStatus
from devices.led.render import ScreenView, render_png, render_text_box

DEFAULT_SLOW_SECONDS = 1.0
FAULTS = (FaultSpec("no_answer"), FaultSpec("crc_error"), FaultSpec("garbage"),
          FaultSpec("slow", "s", default=DEFAULT_SLOW_SECONDS, high=60), FaultSpec("module_fault"))


@dataclass
class SimScreen:
    address: int
    rows: int
    cols: int
    brightness: int = 80
    content: ScreenContent = field(default_factory=ScreenContent)
    faults: FaultBoard = field(default_factory=lambda: FaultBoard(FAULTS))
    commands_done: int = 0

    def view(self) -> ScreenView:
        return ScreenView(self.address, self.rows, self.cols, self.brightness, self.content)


class LedBusSimulator(ThreadedSimulator):
    """Screens sharing one pty: a driver opens :attr:`path` and addresses them as on a real RS-485 bus."""

    def __init__(
        self,
        addresses: Iterable[int] = (1,),
        rows: int = 4,
        cols: int = 24,
        on_update: Callable[[ScreenView], None] | None = None,
        seed: int | None = None,
    ) -> None:
        addresses = list(addresses)
        if not addresses:
            raise ValueError("an LED line needs at least one screen address")
        for address in addresses:
            if not (codec.MIN_ADDRESS <= address <= codec.MAX_ADDRESS):
                raise ValueError(f"screen address {address} is out of range; allowed 1..254")
        if len(set(addresses)) != len(addresses):
            raise ValueError(f"screen addresses must differ on one line, got {addresses}")
        if not (1 <= rows <= 16 and 1 <= cols <= 255):
            raise ValueError(f"screen size {rows}x{cols} is out of range; rows 1..16, columns 1..255")
        self.screens = {a: SimScreen(a, rows, cols) for a in addresses}
        self.on_update = on_update
        self.frames_rejected = 0
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._endpoint = PtyEndpoint()
        self._decoder = codec.FrameDecoder()
        self._thread = threading.Thread(target=self._serve, name="led-sim", daemon=True)
        # Every screen has its own board; the table's fault command is this bus's, which picks the screens.
        self.controls = ControlTable({
            "status": ControlCommand(self._ctl_status, "status [ADDRESS]"),
            "fault": ControlCommand(self._ctl_fault, "fault NAME on|off|SECONDS [ADDRESS]"),
            "render": ControlCommand(self._ctl_render, "render ADDRESS PATH.png"),
            "help": ControlCommand(lambda _r, _a: {"text": HELP}, "help"),
        }, status=self.status)

    @property
    def path(self) -> str:
        return self._endpoint.path

    def _release(self) -> None:
        self._endpoint.close()

    # -- the technician's side -------------------------------------------------------------------------------

    def _targets(self, address: int | None) -> list[SimScreen]:
        if address is None:
            return list(self.screens.values())
        if address not in self.screens:
            raise ControlError(f"no screen at address {address} on this line; screens: {sorted(self.screens)}")
        return [self.screens[address]]

    def set_fault(self, name: str, on: bool = True, *, count: int | None = None, value: float | None = None,
                  address: int | None = None) -> str:
        """Switch a fault on or off for one screen, or every screen when ``address`` is None."""
        with self._lock:
            done = [screen.faults.set(name, on, count=count, value=value) for screen in self._targets(address)]
        return done[0] + (f" for screen {address}" if address is not None else "")

    def view(self, address: int) -> ScreenView:
        with self._lock:
            return self._targets(address)[0].view()

    def text_box(self, address: int) -> str:
        return render_text_box(self.view(address), mask=True)

    def render_png(self, address: int, path: str | Path | None = None) -> bytes:
        """The screen as a PNG; written to ``path`` too when one is given."""
        data = render_png(self.view(address))
        if path is not None:
            Path(path).write_bytes(data)
        return data

    def handle_control(self, request: dict[str, Any]) -> dict[str, Any]:
        """Commands from the control channel and the console: status, fault, render, help."""
        return self.controls.handle(request)

    def status(self, address: int | None = None) -> dict[str, Any]:
        with self._lock:
            screens = self._targets(address)
            return {
                "path": self.path,
                "frames_rejected": self.frames_rejected,
                "screens": [
                    {
                        "address": s.address,
                        "size": [s.rows, s.cols],
                        "brightness": s.brightness,
                        "faults": s.faults.status(),
                        "commands_done": s.commands_done,
                    }
                    for s in screens
                ],
                "text": "\n".join(render_text_box(s.view(), mask=True) for s in screens)
                + f"\nfaults: { {s.address: list(s.faults.status()) for s in screens} }",
            }

    def _ctl_status(self, request: dict[str, Any], args: list[Any]) -> dict[str, Any]:
        address = request.get("address", args[0] if args else None)
        return self.status(None if address is None else int(address))

    def _ctl_fault(self, request: dict[str, Any], args: list[Any]) -> dict[str, Any]:
        name, on, count, value = fault_request(request)
        address = request.get("address")
        rest = list(args[1:])  # after NAME: [on|off] [SECONDS] [ADDRESS]
        if rest and isinstance(rest[0], bool):
            rest = rest[1:]
        if name == "slow":
            if address is None and len(rest) > 1:
                address = rest[1]  # fault slow 0.5 3
        elif rest:
            if address is None:
                address = rest[0]  # fault no_answer on 3: the number names a screen
            if value == rest[0]:
                value = None
        return {"text": self.set_fault(name, on, count=count, value=value,
                                       address=None if address is None else int(address))}

    def _ctl_render(self, request: dict[str, Any], args: list[Any]) -> dict[str, Any]:
        address = int(request.get("address", args[0] if args else min(self.screens)))
        path = request.get("path", args[1] if len(args) > 1 else None)
        if path is None:
            raise ControlError("render needs a file to write: render ADDRESS PATH.png")
        self.render_png(address, path)
        return {"path": str(path), "text": f"screen {address} drawn to {path}"}

    # -- the wire side ---------------------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            data = self._endpoint.read(4096, timeout=0.05)
            items = self._decoder.feed(data) if data else self._decoder.idle()
            for item in items:
                if isinstance(item, codec.Rejected):
                    self.frames_rejected += 1  # a real screen ignores what it cannot read
                    continue
                try:
                    self._handle_frame(item)
                except OSError:
                    return  # the pty went away under us: we are closing

    def _handle_frame(self, frame: Frame) -> None:
        if frame.command in codec.REPLY_COMMANDS:
            return  # another screen's reply heard on the bus
        if frame.address == BROADCAST:
            targets = list(self.screens.values())
        elif frame.address in self.screens:
            targets = [self.screens[frame.address]]
        else:
            return
        for screen in targets:
            with self._lock:
                if screen.faults.active("no_answer"):
                    continue
                reply, changed = self._execute(screen, frame)
                view = screen.view()
            crc_error, garbage = screen.faults.active("crc_error"), screen.faults.active("garbage")
            slow = screen.faults.value("slow")
            if changed and self.on_update is not None:
                self.on_update(view)
            if frame.address == BROADCAST:
                continue
            wire = codec.encode_frame(reply)
            if crc_error:
                wire = wire[:-3] + bytes([wire[-3] ^ 0xFF, wire[-2]]) + wire[-1:]
            if slow and self._stop.wait(slow):
                return
            if garbage:
                self._endpoint.write(bytes(self._rng.randrange(256) for _ in range(self._rng.randint(4, 40))))
            self._endpoint.write(wire)

    def _execute(self, screen: SimScreen, frame: Frame) -> tuple[Frame, bool]:
        """Act on one command addressed to ``screen``; returns the reply and whether the picture changed."""
        command = frame.command

        def refuse(code: NakCode) -> tuple[Frame, bool]:
            return codec.nak(screen.address, frame.seq, command, code), False

        if command == Command.SHOW:
            try:
                content = codec.decode_show_payload(frame.payload)
            except codec.PayloadError as exc:
                return refuse(exc.code)
            for line in content.lines:
                if line.row >= screen.rows:
                    return refuse(NakCode.OUT_OF_RANGE)
                if not line.scroll and codec.display_width(line.text) > screen.cols:
                    return refuse(NakCode.TOO_LONG)
            screen.content = content
        elif command == Command.CLEAR:
            if frame.payload:
                return refuse(NakCode.BAD_PAYLOAD)
            screen.content = ScreenContent()
        elif command == Command.BRIGHTNESS:
            if len(frame.payload) != 1:
                return refuse(NakCode.BAD_PAYLOAD)
            if frame.payload[0] > 100:
                return refuse(NakCode.OUT_OF_RANGE)
            screen.brightness = frame.payload[0]
        elif command == Command.STATUS:
            if frame.payload:
                return refuse(NakCode.BAD_PAYLOAD)
            flags = ScreenStatus.FLAG_MODULE_FAULT if screen.faults.active("module_fault") else 0
            status = ScreenStatus(screen.rows, screen.cols, screen.brightness, flags, len(screen.content.lines))
            screen.commands_done += 1
            return codec.ack(screen.address, frame.seq, command, codec.encode_status(status)), False
        else:
            return refuse(NakCode.UNKNOWN_COMMAND)
        screen.commands_done += 1
        return codec.ack(screen.address, frame.seq, command), True


HELP = """commands:
  status [ADDRESS]                 what each screen shows, its brightness and faults
  fault NAME on|off [ADDRESS]      NAME: no_answer, crc_error, garbage, module_fault (all screens if no ADDRESS)
  fault slow SECONDS [ADDRESS]     reply after SECONDS; fault slow off to stop
  render ADDRESS PATH.png          draw the screen as a PNG
  help, quit"""
