"""Translations of the citizen pages as data (``config/i18n/{zh,bo,en}.yaml``) that the hall's translators edit.

Chinese is the reference: every other language has its keys, with the same ``{placeholders}``. A text missing in
Tibetan falls back to the Chinese one on the page, and :func:`problems` lists it (``onewindow i18n check``), so a
gap is never silent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import CONFIG_DIR

from .hall_config import ConfigError, ConfigProblem, read_yaml

I18N_DIR = CONFIG_DIR / "i18n"
LANGUAGES = ("zh", "bo", "en")
REFERENCE = "zh"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_HAN = re.compile(r"[\u4e00-\u9fff]")

Catalogue = dict[str, dict[str, Any]]


def load(directory: Path | None = None) -> Catalogue:
    """Every language file of the directory; a missing file is an empty language (reported by problems()).
    A file that cannot be read or parsed is a ConfigError naming it (and the line)."""
    base = directory or I18N_DIR
    out: Catalogue = {}
    for lang in LANGUAGES:
        path = base / f"{lang}.yaml"
        data = read_yaml(path) if path.exists() else {}
        if not isinstance(data, dict):
            raise ConfigError([ConfigProblem(str(path), "", "expected sections (common, tracker, case, …) at the "
                                                             "top level")])
        out[lang] = data
    return out


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """{"case": {"status": {"ready": "…"}}} -> {"case.status.ready": "…"}; list entries get their index."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(tree, dict):
        items = tree.items()
    elif isinstance(tree, list):
        items = enumerate(tree)
    else:
        return {prefix: "" if tree is None else str(tree)}
    out: dict[str, str] = {}
    for k, v in items:
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def problems(catalogue: Catalogue, languages: tuple[str, ...] = ("bo", "en")) -> list[str]:
    """Every gap, one line each: missing, empty or untranslated (still the Chinese text) entries, placeholders that
    differ from the Chinese, and keys the Chinese reference does not have."""
    ref = flatten(catalogue.get(REFERENCE, {}))
    found: list[str] = []
    for lang in languages:
        flat = flatten(catalogue.get(lang, {}))
        for key, zh in ref.items():
            text = flat.get(key)
            if text is None:
                found.append(f"{lang}: {key}: missing (Chinese: {zh})")
            elif not text.strip():
                found.append(f"{lang}: {key}: empty (Chinese: {zh})")
            elif text == zh and _HAN.search(zh):
                found.append(f"{lang}: {key}: untranslated (still the Chinese text)")
            elif set(_PLACEHOLDER.findall(text)) != set(_PLACEHOLDER.findall(zh)):
                found.append(f"{lang}: {key}: placeholders {sorted(set(_PLACEHOLDER.findall(text)))} differ from "
                             f"the Chinese {sorted(set(_PLACEHOLDER.findall(zh)))}")
        for key in flat.keys() - ref.keys():
            if not (key.endswith("_one") and key[:-4] in ref):
                found.append(f"{lang}: {key}: not in zh.yaml (a typing error in the key?)")
    return sorted(found)


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in over.items()}}
    return base if over in (None, "") else over


def page_strings(catalogue: Catalogue, *sections: str) -> dict[str, dict[str, Any]]:
    """The texts a page needs, per language, each falling back to the Chinese where a text is missing."""
    out: dict[str, dict[str, Any]] = {}
    for lang in LANGUAGES:
        merged: dict[str, Any] = {}
        for section in ("common", *sections):
            merged.update(_merge(catalogue.get(REFERENCE, {}).get(section, {}),
                                 catalogue.get(lang, {}).get(section, {})))
        out[lang] = merged
    return out


def text(catalogue: Catalogue, lang: str, key: str, **values: Any) -> str:
    """One text, formatted (``text(cat, "bo", "ticket.ahead", n=3)``), Chinese where the language lacks it."""
    section, _, name = key.partition(".")
    own = catalogue.get(lang, {}).get(section, {})
    template = (values.get("n") == 1 and own.get(f"{name}_one")) or own.get(name) or catalogue[REFERENCE][section][name]
    return str(template).format(**values)


# ------------------------------------------------------------------ names of service items and materials

# {"items": {item id: {lang: name}}, "materials": {Chinese name: {lang: name}}}
Names = dict[str, dict[str, dict[str, str]]]


def load_names(directory: Path | None = None) -> Names:
    """config/i18n/catalogue.yaml; a missing file is no translation (the pages show the Chinese, marked)."""
    path = (directory or I18N_DIR) / "catalogue.yaml"
    data = (read_yaml(path) if path.exists() else None) or {}
    out: Names = {}
    for kind in ("items", "materials"):
        table = (data.get(kind) or {}) if isinstance(data, dict) else None
        if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
            raise ConfigError([ConfigProblem(str(path), kind, "expected a mapping of names to {zh:, bo:, en:}")])
        out[kind] = dict(table)
    return out


@dataclass(frozen=True)
class Texts:
    """The citizen texts of config/i18n, read once when the server starts: the pages' and printed ticket's lines
    (``catalogue``) and the names of service items and materials (``names``)."""

    catalogue: Catalogue
    names: Names

    def text(self, lang: str, key: str, **values: Any) -> str:
        return text(self.catalogue, lang, key, **values)

    def each_language(self, key: str, **values: Any) -> dict[str, str]:
        """One text in every language ({"zh": …, "bo": …, "en": …}), Chinese where a language lacks it."""
        return {lang: self.text(lang, key, **values) for lang in LANGUAGES}

    def names_of(self, kind: str, key: str, zh: str) -> dict[str, str | None]:
        """An item's (kind "items", by id) or a material's (kind "materials", by Chinese name) name per
        language; None where no translation exists, so the page can mark the Chinese it shows instead."""
        entry = self.names[kind].get(key) or {}
        return {"zh": zh, "en": entry.get("en") or None, "bo": entry.get("bo") or None}


def load_texts(directory: Path | None = None) -> Texts:
    """Both kinds of file of the translations folder; one that cannot be used is a ConfigError naming it."""
    return Texts(load(directory), load_names(directory))


def names_missing(names: Names, item_ids: list[str], materials: list[str], lang: str) -> list[str]:
    """The catalogue names with no translation in ``lang`` (for ``onewindow i18n check --catalogue``)."""
    out = [f"{lang}: item {i}" for i in item_ids if not (names["items"].get(i) or {}).get(lang)]
    out += [f"{lang}: material {m}" for m in materials if not (names["materials"].get(m) or {}).get(lang)]
    return out
