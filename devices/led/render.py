"""What an LED screen shows, as a framed text box (for a terminal) and as a dot-matrix PNG (Pillow + CJK font)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from devices.contract.privacy import mask_name
from devices.led.codec import Color, Role, ScreenContent, display_width

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
TIBETAN_FONT = Path("/usr/share/fonts/truetype/tibetan-machine/TibetanMachineUni.ttf")
ROW_PX = 16  # a 16x16 dot cell per CJK character, 8x16 per half-width one: the usual P10 module pitch
COL_PX = 8

_RGB = {Color.RED: (255, 40, 30), Color.GREEN: (40, 255, 60), Color.AMBER: (255, 170, 0)}


@dataclass(frozen=True)
class ScreenView:
    """The state a renderer needs; the simulator keeps one per address."""

    address: int
    rows: int
    cols: int
    brightness: int
    content: ScreenContent


def visible_text(text: str, role: Role, mask: bool) -> str:
    """The staff name is personal data: masked unless the caller draws the screen itself."""
    return mask_name(text) if mask and role == Role.STAFF else text


def _pad(text: str, cols: int) -> str:
    """Cut or pad to exactly ``cols`` columns, counting CJK characters as two."""
    out, width = "", 0
    for char in text:
        w = display_width(char)
        if width + w > cols:
            break
        out += char
        width += w
    return out + " " * (cols - width)


def render_text_box(view: ScreenView, mask: bool = True) -> str:
    """A box drawn with line characters, one box row per screen row, attributes noted on the right."""
    title = f" LED {view.address} · {view.rows}x{view.cols} · {view.brightness}% "
    inner = max(view.cols, display_width(title) + 2)
    top = "┌─" + title + "─" * (inner - display_width(title) - 1) + "┐"
    rows = []
    for row in range(view.rows):
        line = view.content.line_at(row)
        if line is None or view.brightness == 0:
            rows.append("│" + " " * inner + "│")
            continue
        text = visible_text(line.text, line.role, mask)
        marks = [line.color.name.lower()]
        if line.scroll:
            marks.append("scroll")
        if line.blink:
            marks.append("blink")
        if line.role != Role.TEXT:
            marks.append(line.role.name.lower())
        rows.append("│" + _pad(text, inner) + "│ " + ",".join(marks))
    bottom = "└" + "─" * inner + "┘"
    return "\n".join([top, *rows, bottom])


@lru_cache(maxsize=4)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(path, size)
    except OSError as exc:
        raise RuntimeError(f"cannot load the font {path} for the LED picture: {exc}; install fonts-noto-cjk") from exc


def _is_tibetan(char: str) -> bool:
    return "\u0f00" <= char <= "\u0fff"


def _runs(text: str) -> list[tuple[str, bool]]:
    """Split text into runs of Tibetan and non-Tibetan characters, since no one font here has both."""
    runs: list[tuple[str, bool]] = []
    for char in text:
        tib = _is_tibetan(char)
        if runs and runs[-1][1] == tib:
            runs[-1] = (runs[-1][0] + char, tib)
        else:
            runs.append((char, tib))
    return runs


def render_dots(view: ScreenView, mask: bool = False) -> np.ndarray:
    """The lit dots as an (H, W, 3) uint8 array, one element per LED."""
    height, width = view.rows * ROW_PX, view.cols * COL_PX
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    if view.brightness == 0:
        return canvas
    level = 0.25 + 0.75 * view.brightness / 100  # even 1% is visible on a real module
    for line in view.content.lines:
        if not (0 <= line.row < view.rows):
            continue
        plane = Image.new("L", (width, ROW_PX), 0)
        draw = ImageDraw.Draw(plane)
        x = 0.0
        for run, tibetan in _runs(visible_text(line.text, line.role, mask)):
            font = _font(str(TIBETAN_FONT if tibetan else CJK_FONT), ROW_PX - 1 if not tibetan else ROW_PX - 4)
            draw.text((x, ROW_PX / 2), run, fill=255, font=font, anchor="lm")
            x += draw.textlength(run, font=font)
        lit = np.asarray(plane) > 110  # a dot is on or off; no grey on an LED matrix
        color = np.array(_RGB[line.color], dtype=np.float32) * level
        canvas[line.row * ROW_PX : (line.row + 1) * ROW_PX][lit] = color.astype(np.uint8)
    return canvas


def render_png(view: ScreenView, scale: int = 4, mask: bool = False) -> bytes:
    """A PNG picture of the screen: each LED drawn as a round dot, unlit dots faintly grey."""
    dots = render_dots(view, mask)
    yy, xx = np.mgrid[0:scale, 0:scale]
    centre = (scale - 1) / 2
    round_dot = ((yy - centre) ** 2 + (xx - centre) ** 2) <= (scale * 0.42) ** 2
    big = np.repeat(np.repeat(dots, scale, axis=0), scale, axis=1)
    unlit = big.sum(axis=2) == 0
    big[unlit] = (28, 28, 28)
    big[~np.tile(round_dot, (dots.shape[0], dots.shape[1]))] = (0, 0, 0)
    border = 2 * scale
    image = Image.new("RGB", (big.shape[1] + 2 * border, big.shape[0] + 2 * border), (10, 10, 10))
    image.paste(Image.fromarray(big, "RGB"), (border, border))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
