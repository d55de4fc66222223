"""Finding a service item (or a home tile) from what a citizen types on the kiosk: Chinese text or pinyin.

``qykb`` finds 企业开办 (pinyin initials), ``qiye`` finds 企业… (full pinyin), ``身份证`` finds 居民身份证… (text).
Pinyin comes from pypinyin (phrase-aware), and every reading of a polyphonic character counts, so 银行 is found by
``yh`` and a rarer reading typed by someone is not refused. Pure: no Flask, no database.
"""

from __future__ import annotations

import gc
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_DROP = re.compile(r"[\s·・,，、。.;；:：()（）\[\]【】“”\"'‘’《》<>/\\-]+")


def _split(text: str) -> Any:
    # pypinyin's ``errors`` hook: text without a reading comes back one character per entry. pypinyin accepts a
    # list here (documented), its type stub says str; Any says "not checked" instead of an ignore.
    return list(text)


def normalise(text: str) -> str:
    """Full-width letters to half-width, lower case, punctuation and spaces removed."""
    return _DROP.sub("", unicodedata.normalize("NFKC", text).lower())


@dataclass(frozen=True)
class Spelling:
    """The pinyin of a text, one entry per character: every initial and every full syllable it may be read as."""

    chars: str
    initials: tuple[frozenset[str], ...]
    syllables: tuple[frozenset[str], ...]
    main_initials: str  # the phrase-aware reading only (银行 -> yh, never yx)

    @classmethod
    def of(cls, text: str) -> Spelling:
        # Imported here, not at the top: see release_dictionaries.
        from pypinyin import Style, lazy_pinyin, pinyin

        chars = normalise(text)
        phrase = lazy_pinyin(chars, style=Style.NORMAL, errors=_split)
        # lazy_pinyin gives one entry per CJK character and per other character (errors= splits the rest).
        if len(phrase) != len(chars):  # pragma: no cover - defensive: fall back to character by character
            phrase = [lazy_pinyin(c, style=Style.NORMAL, errors=_split)[0] for c in chars]
        main = "".join((p[0] if p else "?") for p in phrase)
        inits: list[frozenset[str]] = []
        sylls: list[frozenset[str]] = []
        for ch, reading in zip(chars, phrase, strict=True):
            if _CJK.match(ch):
                readings = {reading, *pinyin(ch, style=Style.NORMAL, heteronym=True)[0]}
                readings = {r for r in readings if r.isascii() and r.isalpha()}
            else:
                readings = {ch}
            sylls.append(frozenset(readings))
            inits.append(frozenset(r[0] for r in readings if r))
        return cls(chars, tuple(inits), tuple(sylls), main.lower())

    def initials_at(self, query: str) -> int | None:
        """Where ``query`` (letters) matches consecutive characters' initials, any reading; None if nowhere."""
        n, m = len(self.initials), len(query)
        for start in range(n - m + 1):
            if all(query[k] in self.initials[start + k] for k in range(m)):
                return start
        return None

    def full_at(self, query: str) -> int | None:
        """Where ``query`` is a run of full syllables (the last one may be typed only partly): ``qiyek``."""
        for start in range(len(self.syllables)):
            if self._full_from(start, query):
                return start
        return None

    def _full_from(self, pos: int, rest: str) -> bool:
        if not rest:
            return True
        if pos >= len(self.syllables):
            return False
        for syl in self.syllables[pos]:
            if rest.startswith(syl) and self._full_from(pos + 1, rest[len(syl):]):
                return True
            if syl.startswith(rest):  # the last syllable typed partly
                return True
        return False


@dataclass(frozen=True)
class Entry:
    """Something findable: a service item or a home tile, with the texts it answers to."""

    kind: str  # "item" | "tile"
    id: str
    name: str
    aliases: tuple[str, ...] = ()  # what people call it (社保卡 for 社会保障卡): ranked nearly as the name
    also: tuple[str, ...] = ()  # theme, department: found, but ranked below the name
    spelling: Spelling = field(init=False, compare=False, repr=False)
    alias_spellings: tuple[Spelling, ...] = field(init=False, compare=False, repr=False)
    also_spellings: tuple[Spelling, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "spelling", Spelling.of(self.name))
        object.__setattr__(self, "alias_spellings", tuple(Spelling.of(a) for a in self.aliases if a))
        object.__setattr__(self, "also_spellings", tuple(Spelling.of(a) for a in self.also if a))


@dataclass(frozen=True)
class Hit:
    kind: str
    id: str
    name: str
    score: int
    matched: str  # "name" | "alias" | "initials" | "pinyin" | "also" | "id"


def _text_score(q: str, target: str, base: int) -> int:
    if not target:
        return 0
    if q == target:
        return base + 20
    if target.startswith(q):
        return base + 10
    if q in target:
        return base
    # every typed character in order (身份证补 -> 居民身份证补领)
    it = iter(target)
    if len(q) >= 2 and all(c in it for c in q):
        return base - 30
    return 0


def _letters_score(q: str, sp: Spelling, base: int) -> int:
    """Pinyin initials or full pinyin typed for ``sp``: whole text > its start > inside; the usual reading of a
    polyphonic character > a rarer one."""
    best = 0
    if len(q) == 1 and not sp.main_initials.startswith(q):
        return 0  # one letter finds only what starts with it
    if sp.main_initials == q:
        best = base + 15
    elif sp.main_initials.startswith(q):
        best = base + 10
    elif q in sp.main_initials:
        best = base
    else:
        at = sp.initials_at(q)
        if at is not None:
            best = base - 20
    if len(q) >= 2:
        at = sp.full_at(q)
        if at is not None:
            best = max(best, base + (8 if at == 0 else -2))
    return best


def score(entry: Entry, query: str) -> Hit | None:
    q = normalise(query)
    if not q:
        return None
    best = (0, "")
    if _CJK.search(q):
        candidates = [(entry.spelling, 100, "name")] + [(sp, 85, "alias") for sp in entry.alias_spellings] + [
            (sp, 60, "also") for sp in entry.also_spellings]
        for sp, base, what in candidates:
            s = _text_score(q, sp.chars, base)
            if s > best[0]:
                best = (s, what)
    elif q.isascii() and q.isalnum():
        candidates = [(entry.spelling, 80, "name")] + [(sp, 70, "alias") for sp in entry.alias_spellings] + [
            (sp, 50, "also") for sp in entry.also_spellings]
        for sp, base, what in candidates:
            s = _letters_score(q, sp, base)
            # A secondary word (a department, a keyword) counts only when the letters spell all of it: "sfz" is
            # 身份证, not the start of 市发展改革局.
            if what == "also" and s and sp.main_initials != q and sp.full_at(q) != 0:
                s = 0
            if s > best[0]:
                best = (s, what if what != "name" else "pinyin")
        if len(q) >= 3 and q in entry.id.replace("-", "") and best[0] < 30:
            best = (30, "id")
    if not best[0]:
        return None
    return Hit(entry.kind, entry.id, entry.name, best[0], best[1])


class SearchIndex:
    """Items and tiles with their pinyin worked out once; ``find`` ranks by how well each answers the query."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = list(entries)

    def find(self, query: str, limit: int = 20, kinds: tuple[str, ...] = ("item", "tile")) -> list[Hit]:
        hits = [h for e in self.entries if e.kind in kinds and (h := score(e, query)) is not None]
        hits.sort(key=lambda h: (-h.score, h.kind != "tile", len(h.name), h.id))
        return hits[:limit]


def release_dictionaries() -> None:
    """Unload pypinyin once every spelling is worked out (~50 MB of dictionaries in a server that has 200 MB for
    1,000 connected screens): a query compares against the stored spellings and never needs them; a later
    ``Spelling.of`` imports them again."""
    for name in [m for m in sys.modules if m == "pypinyin" or m.startswith("pypinyin.")]:
        del sys.modules[name]
    gc.collect()
