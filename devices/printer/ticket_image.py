"""Drawing a ticket's text lines and QR codes as the printer would: its font cell, stretched by the print mode."""

from __future__ import annotations

from typing import TYPE_CHECKING

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw

from devices.printer.fonts import load_font, script_runs

if TYPE_CHECKING:  # the ticket model imports this module to draw itself
    from devices.printer.ticket import TextLine

CELL_DOTS = 12  # single-byte character cell of font A on a 203-dpi printer; double-byte cells are 24
CHAR_HEIGHT_DOTS = 24
_QR_LEVELS = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
              "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}


def _cells(text: str) -> int:
    return sum(1 if ord(char) < 0x80 else 2 for char in text)


def x_for(align: str, item_width: int, paper_width: int) -> int:
    """Left edge of an item ``item_width`` dots wide, aligned on paper ``paper_width`` dots wide."""
    return {"center": (paper_width - item_width) // 2, "right": paper_width - item_width}.get(align, 0)


def draw_line(page: Image.Image, line: TextLine, left: int, top: int, paper_width: int) -> None:
    """Draw a text line on ``page`` with its top at ``top``, each segment in its own print mode."""
    width = sum(_cells(s.text) * CELL_DOTS * s.width for s in line.segments)
    x = left + max(0, x_for(line.align, width, paper_width))
    baseline = top + line.height_dots - 6  # descenders sit in the line spacing below the 24-dot cell
    for segment in line.segments:
        cell_width = _cells(segment.text) * CELL_DOTS
        if not cell_width:
            continue
        # Draw at normal size on a strip, then stretch it by the print mode's multipliers, as the printer does.
        strip = Image.new("L", (cell_width + 8, CHAR_HEIGHT_DOTS + 8), 255)
        draw = ImageDraw.Draw(strip)
        pen = 0.0
        for kind, run in script_runs(segment.text):
            font = load_font(kind, CHAR_HEIGHT_DOTS)
            draw.text((pen, CHAR_HEIGHT_DOTS), run, font=font, fill=0, anchor="ls", stroke_width=int(segment.bold))
            pen += _cells(run) * CELL_DOTS
        stretched = strip.resize(
            (strip.width * segment.width, strip.height * segment.height), Image.Resampling.NEAREST
        )
        page.paste(stretched, (x, baseline - CHAR_HEIGHT_DOTS * segment.height), mask=_ink(stretched))
        x += cell_width * segment.width


def _ink(image: Image.Image) -> Image.Image:
    return image.point(lambda value: 255 - value)


def _qr_code(payload: str, ec: str, box_size: int = 10, border: int = 4) -> qrcode.QRCode:
    level = _QR_LEVELS.get(ec, qrcode.constants.ERROR_CORRECT_L)
    code = qrcode.QRCode(error_correction=level, box_size=box_size, border=border)
    code.add_data(payload.encode("utf-8"))
    return code


def qr_modules(payload: str, ec: str) -> int:
    """Modules across the QR symbol a printer makes of ``payload`` at level ``ec`` (unknown levels count as L)."""
    return _qr_code(payload, ec).best_fit() * 4 + 17


def qr_symbol(payload: str, ec: str, module_dots: int) -> Image.Image:
    """The bare QR symbol (no quiet zone) with ``module_dots``-dot modules, mode L."""
    code = _qr_code(payload, ec, box_size=module_dots, border=0)
    code.make(fit=True)
    return code.make_image().get_image().convert("L")
