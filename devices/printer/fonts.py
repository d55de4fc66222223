"""The outline fonts that draw what a printer's own font lacks, shared by the renderer and the transcript's picture.

Only font files and script runs are shared: the transcript still reads the bytes on its own, so a test that renders
a ticket and reads it back checks the bytes, not the renderer against itself.
"""

from __future__ import annotations

import functools
import unicodedata

from PIL import ImageFont

CJK_FONT_PATH = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
CJK_FONT_INDEX = 7  # Noto Sans Mono CJK SC: 12-dot Latin / 24-dot Hanzi at 24 px, like the printer's own font
TIBETAN_FONT_PATH = "/usr/share/fonts/truetype/tibetan-machine/TibetanMachineUni.ttf"


def font_path(kind: str) -> str:
    """The file of the font drawing runs of ``kind`` ("tibetan" or "cjk")."""
    return TIBETAN_FONT_PATH if kind == "tibetan" else CJK_FONT_PATH


@functools.lru_cache(maxsize=32)
def load_font(kind: str, size: int) -> ImageFont.FreeTypeFont:
    """The font for runs of ``kind`` at ``size`` px, with complex shaping; raises OSError if it is not installed."""
    index = 0 if kind == "tibetan" else CJK_FONT_INDEX
    return ImageFont.truetype(font_path(kind), size, index=index, layout_engine=ImageFont.Layout.RAQM)


def script_runs(text: str) -> list[tuple[str, str]]:
    """Cut text into runs drawn with one font each: Tibetan, or everything else (Noto CJK covers Latin too)."""
    runs: list[tuple[str, str]] = []
    for char in text:
        # Combining marks stay with their base character so shaping sees the whole stack.
        kind = "tibetan" if "\u0f00" <= char <= "\u0fff" else "cjk"
        if runs and (runs[-1][0] == kind or unicodedata.combining(char)):
            runs[-1] = (runs[-1][0], runs[-1][1] + char)
        else:
            runs.append((kind, char))
    return runs
