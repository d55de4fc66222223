"""Serial barcode/QR scanners: each code is one line ending in a programmable suffix (CR, CRLF, LF, TAB...).

Pure bytes -> codes. Content is UTF-8 by default (Chinese QR content included); scanners set to GBK output
can be read with ``encoding="gb18030"``.
"""

from __future__ import annotations

import codecs

from devices.common.scans import ScannedCode

SUFFIXES: dict[str, bytes | None] = {
    "auto": None,  # CR, LF or CRLF
    "cr": b"\r",
    "crlf": b"\r\n",
    "lf": b"\n",
    "tab": b"\t",
}
DEFAULT_MAX_LENGTH = 4096


class ScanError(ValueError):
    """Bytes from the scanner that do not make a code; the message says what to change."""


class ScanDecodeError(ScanError):
    """A line that is not text in the expected encoding (line noise, or the scanner set to another encoding)."""


class LineTooLong(ScanError):
    """More bytes than any code has, with no suffix: the suffix setting probably does not match the scanner."""


def parse_suffix(value: str | bytes | None) -> bytes | None:
    """``"auto"``/None -> None (any of CR, LF, CRLF); ``"cr"``, ``"crlf"``, ``"lf"``, ``"tab"`` or literal bytes."""
    if value is None:
        return None
    if isinstance(value, bytes):
        if not value:
            raise ValueError("a suffix cannot be empty; use 'auto' for CR/LF/CRLF")
        return value
    key = value.lower()
    if key in SUFFIXES:
        return SUFFIXES[key]
    if value in ("\r", "\n", "\r\n", "\t"):
        return value.encode()
    raise ValueError(f"unknown suffix {value!r}; use one of {', '.join(SUFFIXES)}")


class LineDecoder:
    """Feed bytes as they arrive; get complete codes (and errors) back. Never raises on input."""

    def __init__(
        self,
        suffix: str | bytes | None = None,
        encoding: str = "utf-8",
        max_length: int = DEFAULT_MAX_LENGTH,
        source: str = "serial",
    ) -> None:
        self.suffix = parse_suffix(suffix)
        codecs.lookup(encoding)  # fail now on an unknown encoding name, not at the first scan
        self.encoding = encoding
        self.max_length = max_length
        self.source = source
        self._buf = bytearray()
        self._after_cr = False  # auto mode: a LF right after CR ends nothing
        self._overflowed = False

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[ScannedCode | ScanError]:
        out: list[ScannedCode | ScanError] = []
        if self.suffix is None:
            for byte in data:
                if byte in (0x0D, 0x0A):
                    if not (byte == 0x0A and self._after_cr):
                        self._end_line(out)
                    self._after_cr = byte == 0x0D
                else:
                    self._after_cr = False
                    self._add(bytes([byte]), out)
            return out
        self._buf += data
        while True:
            at = self._buf.find(self.suffix)
            if at < 0:
                break
            line = bytes(self._buf[:at])
            del self._buf[: at + len(self.suffix)]
            self._emit(line, True, out)
        if len(self._buf) > self.max_length:
            self._overflow(out)
        return out

    def flush(self) -> list[ScannedCode | ScanError]:
        """The line went quiet with no suffix: hand on what arrived, marked incomplete."""
        out: list[ScannedCode | ScanError] = []
        line = bytes(self._buf)
        self._buf.clear()
        self._after_cr = False
        if self._overflowed:
            self._overflowed = False
            return out
        self._emit(line, False, out)
        return out

    def _add(self, byte: bytes, out: list[ScannedCode | ScanError]) -> None:
        if self._overflowed:
            return
        self._buf += byte
        if len(self._buf) > self.max_length:
            self._overflow(out)

    def _overflow(self, out: list[ScannedCode | ScanError]) -> None:
        self._buf.clear()
        if self._overflowed:
            return
        self._overflowed = True  # drop the rest of this line, up to its suffix
        out.append(
            LineTooLong(
                f"more than {self.max_length} bytes without a line end: check the scanner's suffix setting "
                f"(expecting {self._suffix_name()})"
            )
        )

    def _end_line(self, out: list[ScannedCode | ScanError]) -> None:
        line = bytes(self._buf)
        self._buf.clear()
        if self._overflowed:
            self._overflowed = False
            return
        self._emit(line, True, out)

    def _emit(self, line: bytes, complete: bool, out: list[ScannedCode | ScanError]) -> None:
        if self._overflowed:
            self._overflowed = False
            return
        if not line:
            return
        try:
            text = line.decode(self.encoding)
        except UnicodeDecodeError:
            # The bytes are never quoted: a code may carry personal data.
            out.append(
                ScanDecodeError(
                    f"scanner sent {len(line)} bytes that are not {self.encoding} text: line noise, or the scanner "
                    f"is set to another output encoding (set it to {self.encoding}, or open with encoding='gb18030')"
                )
            )
            return
        out.append(ScannedCode(text, self.source, complete=complete, raw=line))

    def _suffix_name(self) -> str:
        if self.suffix is None:
            return "CR, LF or CRLF"
        return {b"\r": "CR", b"\r\n": "CRLF", b"\n": "LF", b"\t": "TAB"}.get(self.suffix, repr(self.suffix))
