"""Driving window-top LED screens: the WindowScreen interface and its RS-485 implementation.

A vendor's own protocol (Onbon, C-Power...) would be another WindowScreen; callers only see this interface.
"""

from __future__ import annotations

import contextlib
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

import serial

from devices.led import codec
from devices.led.codec import BROADCAST, Command, Frame, NakCode, ScreenContent, ScreenStatus


class ScreenError(Exception):
    """Anything that kept a screen from doing what it was told."""


class ScreenConnectionError(ScreenError):
    """The port the URL names could not be opened or written."""


class ScreenTimeout(ScreenError):
    """No valid reply after every retry; the message says what was heard instead, if anything."""


class ScreenNak(ScreenError):
    """The screen understood the frame and refused it."""

    def __init__(self, address: int, command: int | None, code: int | None, meaning: str) -> None:
        name = Command(command).name if command is not None and command in Command._value2member_map_ else f"0x{command or 0:02X}"
        super().__init__(f"LED screen {address} refused {name}: error 0x{code or 0:02X}, {meaning}")
        self.address = address
        self.command = command
        self.code = code


class WindowScreen(ABC):
    """A screen above a window: show content, clear, report status."""

    @abstractmethod
    def show(self, content: ScreenContent) -> None: ...

    @abstractmethod
    def clear(self) -> None: ...

    @abstractmethod
    def ping(self) -> ScreenStatus: ...

    @abstractmethod
    def set_brightness(self, percent: int) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """Release the transport."""

    def __enter__(self) -> WindowScreen:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RS485Bus:
    """One serial line shared by the screens on it; a lock keeps each request/reply pair whole.

    ``timeout`` is how long one attempt waits for its reply beyond the time the bytes need at ``baudrate``;
    a frame that fails (silence, CRC error, stray bytes) is sent again ``retries`` more times.
    """

    # A pause this long ends a frame (Modbus RTU uses 3.5 characters; USB adapters buffer ~16 ms).
    INTER_FRAME_GAP = 0.05

    def __init__(self, url: str, baudrate: int = 9600, timeout: float = 0.3, retries: int = 2) -> None:
        if timeout <= 0 or retries < 0:
            raise ValueError(f"timeout must be > 0 and retries >= 0, got timeout={timeout}, retries={retries}")
        self.url = url
        self.baudrate = baudrate
        self.timeout = timeout
        self.retries = retries
        try:
            self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=self.INTER_FRAME_GAP)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise ScreenConnectionError(f"cannot open the LED screen line {url!r}: {exc}") from exc
        self._lock = threading.Lock()
        self._decoder = codec.FrameDecoder()
        self._seq = 0
        self.rejected_bytes = 0  # noise and bad frames heard, for health reporting

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _wire_time(self, n_bytes: int) -> float:
        return n_bytes * 10 / self.baudrate  # 8N1: ten bits a byte

    def transact(self, frame: Frame) -> Frame | None:
        """Send ``frame`` (its seq is replaced) and return the screen's ACK; None for a broadcast."""
        with self._lock:
            problems: list[str] = []
            for _attempt in range(self.retries + 1):
                request = Frame(frame.address, self._next_seq(), frame.command, frame.payload)
                wire = codec.encode_frame(request)
                try:
                    self._port.reset_input_buffer()
                    self._decoder.reset()
                    self._port.write(wire)
                    self._port.flush()
                except (serial.SerialException, OSError) as exc:
                    raise ScreenConnectionError(f"cannot write to the LED screen line {self.url!r}: {exc}") from exc
                if frame.address == BROADCAST:
                    return None  # nobody answers a broadcast: replies would collide on the bus
                reply, problem = self._await_reply(request, self.timeout + self._wire_time(len(wire) + 64))
                if reply is None:
                    problems.append(problem)
                    continue
                if reply.command == Command.NAK:
                    command, code, meaning = codec.describe_nak(reply.payload)
                    if code == NakCode.BUSY:
                        problems.append("screen busy")
                        continue
                    raise ScreenNak(frame.address, command, code, meaning)
                return reply
            raise ScreenTimeout(
                f"LED screen {frame.address} on {self.url} gave no valid reply to "
                f"{Command(frame.command).name if frame.command in Command._value2member_map_ else frame.command} "
                f"after {self.retries + 1} attempts: {'; '.join(problems)}"
            )

    def _await_reply(self, request: Frame, timeout: float) -> tuple[Frame | None, str]:
        deadline = time.monotonic() + timeout
        heard: str | None = None
        while time.monotonic() < deadline:
            try:
                data = self._port.read(self._port.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                raise ScreenConnectionError(f"cannot read the LED screen line {self.url!r}: {exc}") from exc
            items = self._decoder.feed(data) if data else self._decoder.idle()
            for item in items:
                if isinstance(item, codec.Rejected):
                    self.rejected_bytes += len(item.data)
                    # a damaged frame says more about the line than the noise around it
                    if heard is None or "noise" in heard:
                        heard = item.reason
                    continue
                if (
                    item.address == request.address
                    and item.seq == request.seq
                    and item.command in codec.REPLY_COMMANDS
                    and item.payload[:1] == bytes([request.command])
                ):
                    return item, ""
                # a late reply to an earlier attempt, or another screen's traffic: not ours
        return None, f"no reply within {timeout:.2f} s" + (f" (heard only: {heard})" if heard else "")

    def close(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            self._port.close()


class RS485WindowScreen(WindowScreen):
    """A screen at ``address`` on an RS-485 line, speaking the protocol in PROTOCOL.md.

    Pass a URL (``/dev/ttyUSB0``, ``/dev/pts/5``, ``socket://127.0.0.1:7000``) to own the line, or an
    :class:`RS485Bus` to share one line among several screens.
    """

    def __init__(self, line: RS485Bus | str, address: int, **bus_options: Any) -> None:
        if not (codec.MIN_ADDRESS <= address <= BROADCAST):
            raise ValueError(f"LED screen address {address} is out of range; allowed 1..254, or 255 for all")
        self.address = address
        self._owns_bus = isinstance(line, str)
        self.bus = RS485Bus(line, **bus_options) if isinstance(line, str) else line

    def show(self, content: ScreenContent) -> None:
        try:
            frame = codec.show_request(self.address, 0, content)
        except codec.CodecError as exc:
            raise ScreenError(f"cannot send this content to LED screen {self.address}: {exc}") from exc
        self.bus.transact(frame)

    def clear(self) -> None:
        self.bus.transact(codec.clear_request(self.address, 0))

    def set_brightness(self, percent: int) -> None:
        try:
            frame = codec.brightness_request(self.address, 0, percent)
        except codec.CodecError as exc:
            raise ScreenError(str(exc)) from exc
        self.bus.transact(frame)

    def ping(self) -> ScreenStatus:
        if self.address == BROADCAST:
            raise ScreenError("cannot ping the broadcast address: no screen answers it; ping each address")
        reply = self.bus.transact(codec.status_request(self.address, 0))
        assert reply is not None
        try:
            return codec.decode_status(reply.payload[1:])
        except codec.CodecError as exc:
            raise ScreenError(f"LED screen {self.address} sent a malformed status: {exc}") from exc

    def close(self) -> None:
        if self._owns_bus:
            self.bus.close()
