"""A ticket as plain data: the blocks the server sends to the agent, independent of any printer.

A document is a sequence of blocks (header, large number, text, separator, QR, footer, feed, cut). It travels as
JSON, ``{"blocks": [{"type": "header", "text": "合作市政务服务中心"}, ...]}``; :meth:`TicketDocument.from_dict`
validates it and names the offending block and field when something is wrong. Text may not carry control
characters, so a document can never smuggle ESC/POS commands to the printer.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from pydantic.dataclasses import dataclass

__all__ = [
    "QR_CAPACITY_BYTES",
    "Block",
    "Cut",
    "DocumentError",
    "Feed",
    "Footer",
    "Header",
    "Number",
    "QRCode",
    "Separator",
    "Text",
    "TicketDocument",
]

Align = Literal["left", "center", "right"]
ErrorLevel = Literal["L", "M", "Q", "H"]

MAX_BLOCKS = 200

# Byte capacity of the largest QR symbol (version 40) per error-correction level, byte mode.
QR_CAPACITY_BYTES: dict[str, int] = {"L": 2953, "M": 2331, "Q": 1663, "H": 1273}


class DocumentError(ValueError):
    """A ticket document that cannot be printed; the message names each bad field and why."""


def _no_control_characters(value: str, *, allow_newline: bool) -> str:
    for position, char in enumerate(value):
        if char == "\n" and allow_newline:
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") and char not in "\u200b\u200c\u200d":
            # Zero-width joiners are legitimate in Tibetan/Indic shaping; everything else here could be a
            # printer command byte or an unprintable code point.
            raise ValueError(
                f"contains the control or unassigned character U+{ord(char):04X} at position {position}; "
                "only printable text is allowed" + (" (use \\n to break lines)" if allow_newline else "")
            )
    return value


def _single_line(value: str) -> str:
    return _no_control_characters(value, allow_newline=False)


def _multi_line(value: str) -> str:
    return _no_control_characters(value, allow_newline=True)


LineText = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(_single_line)]
BodyText = Annotated[StrictStr, Field(max_length=2000), AfterValidator(_multi_line)]

_CONFIG = ConfigDict(extra="forbid", frozen=True)


@dataclass(config=_CONFIG)
class Header:
    """The hall's name or a title: bold, double size."""

    text: LineText
    align: Align = "center"
    type: Literal["header"] = Field(default="header", repr=False)


@dataclass(config=_CONFIG)
class Number:
    """The ticket number, printed large (``scale`` times the normal character size, 1-8)."""

    text: Annotated[StrictStr, Field(min_length=1, max_length=16), AfterValidator(_single_line)]
    scale: Annotated[StrictInt, Field(ge=1, le=8)] = 4
    align: Align = "center"
    type: Literal["number"] = Field(default="number", repr=False)


@dataclass(config=_CONFIG)
class Text:
    """One or more lines of body text (``\\n`` breaks lines; long lines wrap at the paper edge)."""

    text: BodyText
    align: Align = "left"
    bold: StrictBool = False
    double: StrictBool = False
    type: Literal["text"] = Field(default="text", repr=False)


@dataclass(config=_CONFIG)
class Separator:
    """A rule across the paper made of one repeated character."""

    char: Annotated[StrictStr, Field(min_length=1, max_length=1), AfterValidator(_single_line)] = "-"
    type: Literal["separator"] = Field(default="separator", repr=False)


@dataclass(config=_CONFIG)
class QRCode:
    """A QR code; ``size`` is the module size in printer dots (1-16), ``ec`` the error-correction level."""

    payload: Annotated[StrictStr, Field(min_length=1)]
    size: Annotated[StrictInt, Field(ge=1, le=16)] = 6
    ec: ErrorLevel = "M"
    align: Align = "center"
    type: Literal["qr"] = Field(default="qr", repr=False)

    def __post_init__(self) -> None:
        length = len(self.payload.encode("utf-8"))
        if length > QR_CAPACITY_BYTES[self.ec]:
            raise ValueError(
                f"payload is {length} bytes in UTF-8; a QR code at level {self.ec} holds at most "
                f"{QR_CAPACITY_BYTES[self.ec]} (shorten it or choose level L)"
            )


@dataclass(config=_CONFIG)
class Footer:
    """Small print at the bottom: opening hours, a hint, the issue time."""

    text: BodyText
    align: Align = "center"
    type: Literal["footer"] = Field(default="footer", repr=False)


@dataclass(config=_CONFIG)
class Feed:
    """Blank lines."""

    lines: Annotated[StrictInt, Field(ge=1, le=20)] = 1
    type: Literal["feed"] = Field(default="feed", repr=False)


@dataclass(config=_CONFIG)
class Cut:
    """Feed the ticket past the cutter and cut it (``partial`` leaves a hinge of paper)."""

    partial: StrictBool = False
    type: Literal["cut"] = Field(default="cut", repr=False)


Block = Annotated[
    Union[Header, Number, Text, Separator, QRCode, Footer, Feed, Cut],  # noqa: UP007 - a discriminated union
    Field(discriminator="type"),
]

BLOCK_TYPES = ("header", "number", "text", "separator", "qr", "footer", "feed", "cut")


@dataclass(config=_CONFIG)
class TicketDocument:
    """What to print, top to bottom."""

    # Emptiness is checked after the blocks so that a bad block is not also reported as "no blocks".
    blocks: Annotated[tuple[Block, ...], Field(max_length=MAX_BLOCKS)]

    def __post_init__(self) -> None:
        if not self.blocks:
            raise ValueError("a ticket needs at least one block")

    @classmethod
    def of(cls, *blocks: Any) -> TicketDocument:
        """Build a document from blocks given as arguments."""
        return cls.from_dict({"blocks": [_block_as_dict(block) for block in blocks]})

    @classmethod
    def from_dict(cls, data: Any) -> TicketDocument:
        """Validate a document received as JSON data; raises :class:`DocumentError` naming every problem."""
        if not isinstance(data, dict):
            raise DocumentError(f"a ticket document is a JSON object with a 'blocks' list, got {type(data).__name__}")
        try:
            return _ADAPTER.validate_python(data)
        except ValidationError as exc:
            raise DocumentError(_describe(exc, data)) from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, which :meth:`from_dict` reads back to an equal document."""
        return _ADAPTER.dump_python(self, mode="json")


_ADAPTER: TypeAdapter[TicketDocument] = TypeAdapter(TicketDocument)
_BLOCK_ADAPTER: TypeAdapter[Any] = TypeAdapter(Block)


def _block_as_dict(block: Any) -> Any:
    if isinstance(block, dict):
        return block
    return _BLOCK_ADAPTER.dump_python(block, mode="json")


_FREE_TEXT_FIELDS = ("text", "payload", "char")


def _describe(exc: ValidationError, data: dict[str, Any]) -> str:
    """Turn pydantic's errors into lines like ``blocks[2] (qr).size: must be <= 16, got 40``."""
    problems = []
    for error in exc.errors(include_url=False):
        location = list(error["loc"])
        parts: list[str] = []
        blocks = data.get("blocks")
        if len(location) >= 2 and location[0] == "blocks" and isinstance(location[1], int):
            index = location[1]
            kind = blocks[index].get("type") if isinstance(blocks, list) and isinstance(blocks[index], dict) else None
            parts.append(f"blocks[{index}]" + (f" ({kind})" if isinstance(kind, str) else ""))
            location = location[2:]
            if location and location[0] == kind:  # pydantic repeats the union tag in the path
                location = location[1:]
        parts.extend(str(item) for item in location)
        where = ".".join(parts) or "document"
        message = error["msg"]
        if error["type"] == "union_tag_invalid":
            message = f"unknown block type {error['input'].get('type')!r}; use one of {', '.join(BLOCK_TYPES)}"
        elif error["type"] == "union_tag_not_found":
            message = f"each block needs a 'type' field, one of {', '.join(BLOCK_TYPES)}"
        elif error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            message = "unknown field (check the spelling)"
        else:
            message = message.removeprefix("Value error, ").replace("a valid tuple", "a list")
            # Echo enum-like and numeric values to help the sender; never free text, which may hold a name.
            shown = error.get("input")
            if location and location[-1] not in _FREE_TEXT_FIELDS and isinstance(shown, int | float | bool | str):
                message += f" (got {shown!r:.40})"
        problems.append(f"{where}: {message}")
    return "invalid ticket document: " + "; ".join(problems)
