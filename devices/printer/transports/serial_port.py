"""A serial printer (a device path or any pyserial URL: socket://, rfc2217://, loop://, a pty)."""

from __future__ import annotations

import serial

from devices.printer.errors import PrinterConnectionLost, PrinterUnavailable


class SerialTransport:
    can_read = True

    def __init__(self, url: str, baudrate: int, timeout: float, write_timeout: float) -> None:
        self.description = url
        try:
            self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=timeout, write_timeout=write_timeout)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise PrinterUnavailable(f"cannot open the printer's serial port {url}: {exc}") from exc

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except serial.SerialTimeoutException as exc:
            raise TimeoutError(str(exc)) from exc
        except serial.SerialException as exc:
            raise OSError(str(exc)) from exc

    def read(self, count: int, timeout: float) -> bytes:
        self._port.timeout = max(timeout, 1e-3)
        try:
            return bytes(self._port.read(count))
        except serial.SerialException as exc:
            raise PrinterConnectionLost(f"the printer's serial port {self.description} failed: {exc}") from exc

    def discard_input(self) -> bytes:
        try:
            dropped = bytes(self._port.read(self._port.in_waiting)) if self._port.in_waiting else b""
            self._port.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise PrinterConnectionLost(f"the printer's serial port {self.description} failed: {exc}") from exc
        return dropped

    def close(self) -> None:
        self._port.close()
