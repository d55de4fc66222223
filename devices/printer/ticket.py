"""A printed ticket: the lines, images and QR codes a printer put on paper between two cuts, as text and as a
picture."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from PIL import Image

from devices.printer.ticket_image import draw_line, qr_symbol, x_for


@dataclass(frozen=True)
class Segment:
    """A run of text in one print mode."""

    text: str
    width: int  # width multiplier
    height: int  # height multiplier
    bold: bool


@dataclass(frozen=True)
class TextLine:
    segments: tuple[Segment, ...]
    align: str
    height_dots: int

    @property
    def text(self) -> str:
        return "".join(segment.text for segment in self.segments)

    def describe(self) -> str:
        marks = [self.align]
        sizes = {(s.width, s.height) for s in self.segments if s.text.strip()}
        if any(s.bold for s in self.segments if s.text.strip()):
            marks.append("bold")
        marks += [f"{w}x{h}" for w, h in sorted(sizes) if (w, h) != (1, 1)]
        return f"[{' '.join(marks)}] {self.text}" if self.text else ""


@dataclass(frozen=True)
class ImageItem:
    image: Image.Image
    align: str
    height_dots: int

    def describe(self) -> str:
        return f"[image {self.image.width}x{self.image.height}]"


@dataclass(frozen=True)
class QRItem:
    payload: str
    module_dots: int
    ec: str
    align: str
    height_dots: int

    def describe(self) -> str:
        return f"[qr {self.ec} x{self.module_dots}] {self.payload}"


@dataclass(frozen=True)
class Space:
    height_dots: int
    note: str = ""

    def describe(self) -> str:
        return f"[{self.note}]" if self.note else ""


Item = TextLine | ImageItem | QRItem | Space


@dataclass
class Ticket:
    """What the printer put on paper between two cuts."""

    index: int
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # unknown bytes and other problems, with offsets
    cut: str | None = None  # "full", "partial", or None when the ticket never got its cut
    paper_width_dots: int = 576

    @property
    def complete(self) -> bool:
        return self.cut is not None

    @property
    def text(self) -> str:
        """The printed text, one line per printed line (images and QR codes left out)."""
        return "\n".join(item.text for item in self.items if isinstance(item, TextLine))

    @property
    def lines(self) -> list[str]:
        return [item.text for item in self.items if isinstance(item, TextLine)]

    @property
    def qr_payloads(self) -> list[str]:
        return [item.payload for item in self.items if isinstance(item, QRItem)]

    @property
    def images(self) -> list[Image.Image]:
        return [item.image for item in self.items if isinstance(item, ImageItem)]

    @property
    def height_dots(self) -> int:
        return sum(item.height_dots for item in self.items)

    @property
    def transcript(self) -> str:
        """Text lines with their print mode, images, QR codes, the cut and any unknown bytes."""
        out = [line for item in self.items if (line := item.describe())]
        out.append(f"[cut {self.cut}]" if self.cut else "[no cut]")
        out += [f"[! {note}]" for note in self.notes]
        return "\n".join(out)

    def render(self, margin: int = 16) -> Image.Image:
        """The ticket as it would look on paper (mode L, white paper, ``margin`` px white border)."""
        width = self.paper_width_dots
        page = Image.new("L", (width + 2 * margin, self.height_dots + 2 * margin), 255)
        y = margin
        for item in self.items:
            if isinstance(item, TextLine):
                draw_line(page, item, margin, y, width)
            elif isinstance(item, ImageItem):
                page.paste(item.image, (margin + x_for(item.align, item.image.width, width), y))
            elif isinstance(item, QRItem):
                symbol = qr_symbol(item.payload, item.ec, item.module_dots)
                page.paste(symbol, (margin + x_for(item.align, symbol.width, width), y))
            y += item.height_dots
        return page

    def png(self) -> bytes:
        """:meth:`render` as PNG bytes."""
        buffer = io.BytesIO()
        self.render().save(buffer, format="PNG", optimize=False)
        return buffer.getvalue()
