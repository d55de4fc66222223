"""The events an ESC/POS byte stream parses into (:mod:`devices.printer.escpos_parser`): text, line feeds,
commands, raster images, QR data, status requests, and bytes that make no sense."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image


@dataclass(frozen=True)
class Text:
    """Printable characters, decoded."""

    text: str
    offset: int = 0


@dataclass(frozen=True)
class LineFeed:
    """LF: print the line buffer and move to the next line."""

    offset: int = 0


@dataclass(frozen=True)
class Control:
    """A recognised command: ``name`` says which (``align``, ``bold``, ``size``, ``cut``...), ``value`` its
    parameter."""

    name: str
    value: Any = None
    offset: int = 0


@dataclass(frozen=True)
class Raster:
    """``GS v 0``: a raster bit image, ``width_bytes`` * 8 dots wide, rows of packed bits, 1 = black."""

    mode: int
    width_bytes: int
    height: int
    data: bytes
    offset: int = 0

    def image(self) -> Image.Image:
        """The image as black text/graphics on white, mode L."""
        bits = Image.frombytes("1", (self.width_bytes * 8, self.height), self.data)
        return bits.convert("L").point(lambda value: 255 - value)


@dataclass(frozen=True)
class QRData:
    """``GS ( k`` store: the data for the next QR print."""

    data: bytes
    offset: int = 0


@dataclass(frozen=True)
class StatusQuery:
    """A request the printer answers: ``dle_eot`` (real time, n = 1-4) or ``gs_r`` (in buffer order)."""

    command: str
    n: int
    offset: int = 0


@dataclass(frozen=True)
class Unknown:
    """Bytes that are not a valid command or character; parsing resumed after them."""

    data: bytes
    reason: str
    offset: int = 0


Event = Text | LineFeed | Control | Raster | QRData | StatusQuery | Unknown
