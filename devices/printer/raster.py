"""Lines the printer's font cannot print, and QR codes for printers without GS ( k, drawn with Pillow and sent as
``GS v 0`` raster images."""

from __future__ import annotations

import unicodedata

import qrcode
import qrcode.constants
from escpos.constants import GS
from escpos.image import EscposImage
from PIL import Image, ImageDraw, ImageFont

from devices.printer.errors import CodecError
from devices.printer.fonts import font_path, load_font, script_runs
from devices.printer.profile import PrinterProfile

# Tibetan letters sit small in their em square: at the Hanzi size their body is ~10 dots, too small to read.
TIBETAN_SCALE = 1.5
RASTER_IMAGE = GS + b"v0"
RASTER_FRAGMENT_DOTS = 960  # taller images go out in several GS v 0 commands; printers cap one command's height
QR_RASTER_BORDER = 2  # modules of quiet zone drawn into a rasterised QR; paper margins give the rest
_QRCODE_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


def _font(kind: str, size: int) -> ImageFont.FreeTypeFont:
    try:
        return load_font(kind, round(size * TIBETAN_SCALE) if kind == "tibetan" else size)
    except OSError as exc:
        raise CodecError(
            f"cannot load the {kind} font {font_path(kind)}: {exc} (install fonts-noto-cjk / fonts-tibetan-machine)"
        ) from exc


def measure(text: str, size: int) -> float:
    """Width in dots of ``text`` drawn at ``size`` px."""
    return sum(_font(kind, size).getlength(run) for kind, run in script_runs(text))


def wrap_pixels(text: str, size: int, width: int) -> list[str]:
    """Split ``text`` drawn at ``size`` px into rows at most ``width`` dots wide, breaking where a reader would."""
    rows: list[str] = []
    row = ""
    for char in text:
        if row and not unicodedata.combining(char) and measure(row + char, size) > width:
            # Prefer breaking after a space or a Tibetan tsheg (syllable mark), as a reader would.
            cut = max(row.rfind(" "), row.rfind("\u0f0b"))
            if cut > len(row) // 2:
                rows.append(row[: cut + 1].rstrip())
                row = row[cut + 1 :]
            else:
                rows.append(row)
                row = ""
        row += char
    rows.append(row)
    return rows


def text_images(text: str, profile: PrinterProfile, *, align: str, bold: bool, scale: int) -> list[Image.Image]:
    """Draw a line (wrapped to the paper) as full-width black-on-white images, one per printed row."""
    size = profile.char_height_dots * scale
    width = profile.paper_width_dots
    images = []
    for row in wrap_pixels(text, size, width):
        runs = script_runs(row)
        kinds = {kind for kind, _ in runs} or {"cjk"}
        ascent = max(_font(kind, size).getmetrics()[0] for kind in kinds)
        descent = max(_font(kind, size).getmetrics()[1] for kind in kinds)
        image = Image.new("L", (width, ascent + descent), 255)
        draw = ImageDraw.Draw(image)
        row_width = measure(row, size)
        x = {"left": 0.0, "center": (width - row_width) / 2, "right": width - row_width}[align]
        for kind, run in runs:
            font = _font(kind, size)
            draw.text((x, ascent), run, font=font, fill=0, anchor="ls", stroke_width=1 if bold else 0, stroke_fill=0)
            x += font.getlength(run)
        images.append(image)
    return images


def fit_qr_size(payload: str, ec: str, size: int, paper_width_dots: int) -> int:
    """The module size, shrunk if needed so that the symbol fits across the paper."""
    code = qrcode.QRCode(error_correction=_QRCODE_LEVELS[ec], border=0)
    code.add_data(payload.encode("utf-8"))
    modules = code.best_fit() * 4 + 17  # the version alone gives the size; no need to build the symbol
    return max(1, min(size, paper_width_dots // (modules + 2 * QR_RASTER_BORDER)))


def qr_image(payload: str, ec: str, size: int, width: int, align: str = "center") -> Image.Image:
    """A QR code drawn with ``size``-dot modules on a white strip ``width`` dots wide."""
    code = qrcode.QRCode(error_correction=_QRCODE_LEVELS[ec], box_size=size, border=QR_RASTER_BORDER)
    code.add_data(payload.encode("utf-8"))
    code.make(fit=True)
    symbol = code.make_image().get_image().convert("L")
    strip = Image.new("L", (width, symbol.height), 255)
    x = {"left": 0, "center": (width - symbol.width) // 2, "right": width - symbol.width}[align]
    strip.paste(symbol, (max(0, x), 0))
    return strip


def raster(image: Image.Image) -> bytes:
    """``GS v 0`` commands printing ``image`` (dark pixels print), split into fragments printers accept."""
    out = []
    # Threshold first so that anti-aliased edges print as solid dots instead of dithering speckle.
    mono = image.convert("L").point(lambda value: 0 if value < 128 else 255)
    for top in range(0, mono.height, RASTER_FRAGMENT_DOTS):
        fragment = EscposImage(mono.crop((0, top, mono.width, min(mono.height, top + RASTER_FRAGMENT_DOTS))))
        out.append(
            RASTER_IMAGE
            + b"\x00"
            + fragment.width_bytes.to_bytes(2, "little")
            + fragment.height.to_bytes(2, "little")
            + fragment.to_raster_format()
        )
    return b"".join(out)
