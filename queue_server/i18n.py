"""Translations of the citizen pages as data (``config/i18n/{zh,bo,en}.yaml``) that the hall's translators edit.

Chinese is the reference: every other language has its keys, with the same ``{placeholders}``. A text missing in
Tibetan falls back to the Chinese one on the page, and :func:`problems` lists it (``onewindow i18n check``), so a
gap is never silent.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from config import CONFIG_DIR

I18N_DIR = CONFIG_DIR / "i18n"
LANGUAGES = ("zh", "bo", "en")
REFERENCE = "zh"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_HAN = re.compile(r"[\u4e00-\u9fff]")

Catalogue = dict[str, dict[str, Any]]


def load(directory: Path | None = None) -> Catalogue:
    """Every language file of the directory; a missing file is an empty language (reported by problems())."""
    base = directory or I18N_DIR
    out: Catalogue = {}
    for lang in LANGUAGES:
        path = base / f"{lang}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected sections (common, tracker, case, …) at the top level")
        out[lang] = data
    return out


@functools.lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The shipped catalogue, read once per process (printed tickets need it outside any page)."""
    return load()


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


@functools.lru_cache(maxsize=1)
def default_names() -> dict[str, dict[str, dict[str, str]]]:
    """config/i18n/catalogue.yaml: {"items": {id: {lang: name}}, "materials": {Chinese name: {lang: name}}}."""
    path = I18N_DIR / "catalogue.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    return {"items": dict(data.get("items") or {}), "materials": dict(data.get("materials") or {})}


def names_of(kind: str, key: str, zh: str) -> dict[str, str | None]:
    """An item's (kind "items", by id) or a material's (kind "materials", by Chinese name) name per language;
    None where no translation exists, so the page can mark the Chinese it shows instead."""
    entry = default_names()[kind].get(key) or {}
    return {"zh": zh, "en": entry.get("en") or None, "bo": entry.get("bo") or None}


def names_missing(item_ids: list[str], materials: list[str], lang: str) -> list[str]:
    """The catalogue names with no translation in ``lang`` (for ``onewindow i18n check --catalogue``)."""
    table = default_names()
    out = [f"{lang}: item {i}" for i in item_ids if not (table["items"].get(i) or {}).get(lang)]
    out += [f"{lang}: material {m}" for m in materials if not (table["materials"].get(m) or {}).get(lang)]
    return out
