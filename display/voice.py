"""Voice calls from recorded clips: which clips, in which order, say "请 A001 号到 3 号窗口办理".

``clip_sequence`` is pure and has a twin in ``display/static/voice.js`` (the hall screen plays what the JS twin
returns); ``tests/unit/display/test_voice.py`` checks that both give the same answer for every window number.

Clip sets live in ``config/voice/<lang>/``: one WAV per clip name plus ``manifest.json`` listing each clip's text,
so a hall can record its own set (Amdo Tibetan, a better Mandarin voice) and drop it in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LANGUAGES = ("zh", "bo", "en")
NUMBER_RE = re.compile(r"^([A-Z]{1,2})([0-9]{1,5})$")
CLIP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
MAX_WINDOW = 999


class VoiceError(ValueError):
    """The number or window cannot be spoken (malformed ticket number, window out of range, unknown language)."""


def split_number(number: str) -> tuple[list[str], list[str]]:
    """"A001" -> (["A"], ["0", "0", "1"]): letters and digits are spoken one by one."""
    m = NUMBER_RE.match(number.strip().upper())
    if m is None:
        raise VoiceError(f"ticket number {number!r} is not letters (1-2) followed by digits (1-5), e.g. A001")
    return list(m.group(1)), list(m.group(2))


def _zh_cardinal(n: int) -> list[str]:
    """3 -> 三, 12 -> 十二, 20 -> 二十, 105 -> 一百零五, 110 -> 一百一十."""
    if n < 10:
        return [str(n)]
    if n < 100:
        tens, unit = divmod(n, 10)
        return (["shi"] if tens == 1 else [str(tens), "shi"]) + ([str(unit)] if unit else [])
    hundreds, rest = divmod(n, 100)
    out = [str(hundreds), "bai"]
    if rest == 0:
        return out
    if rest < 10:
        return [*out, "0", str(rest)]
    tens, unit = divmod(rest, 10)
    return [*out, str(tens), "shi"] + ([str(unit)] if unit else [])


def _en_cardinal(n: int) -> list[str]:
    """3 -> three, 12 -> twelve, 21 -> twenty one, 105 -> one hundred five."""
    if n < 10:
        return [str(n)]
    if n < 20:
        return [f"n{n}"]
    if n < 100:
        tens, unit = divmod(n, 10)
        return [f"n{tens * 10}"] + ([str(unit)] if unit else [])
    hundreds, rest = divmod(n, 100)
    return [str(hundreds), "hundred"] + (_en_cardinal(rest) if rest else [])


def _bo_cardinal(n: int) -> list[str]:
    """Tibetan: 1-9 digits, 10-19 whole words (15 བཅོ་ལྔ, 18 བཅོ་བརྒྱད are irregular), tens + linking syllable
    + unit (21 ཉི་ཤུ་རྩ་གཅིག, 31 སུམ་ཅུ་སོ་གཅིག), hundreds + དང་ + rest."""
    if n < 10:
        return [str(n)]
    if n < 20:
        return [f"n{n}"]
    if n < 100:
        tens, unit = divmod(n, 10)
        return [f"n{tens * 10}"] + ([f"c{tens * 10}", str(unit)] if unit else [])
    hundreds, rest = divmod(n, 100)
    return [f"n{hundreds * 100}"] + (["dang", *_bo_cardinal(rest)] if rest else [])


def clip_sequence(number: str, window_number: int, language: str = "zh") -> list[str]:
    """The clip names to play, in order, for one announcement of ``number`` to ``window_number``.

    zh: 请 A 零 零 一 号到 三 号窗口办理
    en: number A zero zero one, please go to window three
    bo: ཨང་གྲངས། A ཀླད་ཀོར་ ཀླད་ཀོར་ གཅིག སྒེའུ་ཁུང་ཨང་ གསུམ་ པར་ཕེབས་རོགས།
    """
    if isinstance(window_number, bool) or not isinstance(window_number, int) or not 1 <= window_number <= MAX_WINDOW:
        raise VoiceError(f"window number {window_number!r} is not an integer from 1 to {MAX_WINDOW}")
    letters, digits = split_number(number)
    if language == "zh":
        return ["qing", *letters, *digits, "hao-dao", *_zh_cardinal(window_number), "hao-chuangkou-banli"]
    if language == "en":
        return ["number", *letters, *digits, "please-go-to-window", *_en_cardinal(window_number)]
    if language == "bo":
        return ["number", *letters, *digits, "window-number", *_bo_cardinal(window_number), "please-go"]
    raise VoiceError(f"no voice rules for language {language!r}; known: {', '.join(LANGUAGES)}")


def required_clips(language: str) -> list[str]:
    """Every clip name ``clip_sequence`` can ask for in ``language`` (what a recording session must cover)."""
    names: dict[str, None] = {}
    for w in range(1, MAX_WINDOW + 1):
        names.update(dict.fromkeys(clip_sequence("A01234", w, language)))
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        names.update(dict.fromkeys(clip_sequence(f"{letter}56789", 1, language)))
    return list(names)


# --------------------------------------------------------------------------------------------- clip sets


@dataclass(frozen=True)
class ClipSet:
    language: str
    directory: Path
    manifest: dict[str, Any]

    @property
    def enabled(self) -> bool:
        return bool(self.manifest.get("enabled", False))

    def clip_entry(self, name: str) -> dict[str, Any] | None:
        entry = self.manifest.get("clips", {}).get(name)
        return entry if isinstance(entry, dict) else None

    def clip_path(self, name: str, sets: dict[str, ClipSet] | None = None) -> Path | None:
        """The WAV for ``name``: this set's file, or the file of the set the manifest says to reuse."""
        if not CLIP_RE.match(name):
            return None
        own = self.directory / f"{name}.wav"
        if own.is_file():
            return own
        entry = self.clip_entry(name) or {}
        reuse = entry.get("reuse")
        if sets and isinstance(reuse, str) and reuse in sets and reuse != self.language:
            other = sets[reuse].directory / f"{name}.wav"
            if other.is_file():
                return other
        return None

    def missing(self, sets: dict[str, ClipSet] | None = None) -> list[str]:
        return [c for c in required_clips(self.language) if self.clip_path(c, sets) is None]


def default_voice_dir() -> Path:
    from config import CONFIG_DIR

    return CONFIG_DIR / "voice"


def load_clip_sets(*dirs: Path) -> dict[str, ClipSet]:
    """Clip sets found in ``dirs`` (earlier directories win per language), keyed by language."""
    sets: dict[str, ClipSet] = {}
    for base in dirs:
        if not base.is_dir():
            continue
        for lang in LANGUAGES:
            d = base / lang
            manifest_file = d / "manifest.json"
            if lang in sets or not manifest_file.is_file():
                continue
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
            sets[lang] = ClipSet(lang, d, manifest)
    return sets


def complete_languages(sets: dict[str, ClipSet]) -> list[str]:
    """Languages the hall screen announces by default: enabled in their manifest and with every clip present."""
    return [lang for lang in LANGUAGES if lang in sets and sets[lang].enabled and not sets[lang].missing(sets)]
