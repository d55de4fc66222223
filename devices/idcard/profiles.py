"""Simulated cards as data: one JSON file per fictional person in ``config/idcards/``.

Resident card file::

    {"kind": "resident", "name": "...", "sex": "女", "nation": "回", "birth_date": "1954-08-17",
     "address": "...", "id_number": "...", "authority": "...", "valid_from": "2010-03-05", "valid_to": "长期"}

Foreign permanent-resident card file::

    {"kind": "foreign_permanent_resident", "english_name": "...", "chinese_name": "...", "sex": "男",
     "card_number": "...", "nationality": "AUS", "birth_date": "...", "valid_from": "...", "valid_to": "...",
     "card_version": "20", "authority_code": "1500"}

Optional in both: ``"description"`` (for technicians). The photo is opaque bytes derived from the file name,
because real photos are vendor-encrypted WLT blobs nobody outside the vendor library decodes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

from devices.idcard.card import (
    LONG_TERM,
    NATION_CODES,
    NATIONS,
    Card,
    CardType,
    ForeignResidentCard,
    IdCard,
    Sex,
    encode_text_block,
)
from devices.idcard.codec import PHOTO_SIZE
from devices.idcard.errors import CardDataError

DEFAULT_CARDS_DIR = Path(__file__).resolve().parents[2] / "config" / "idcards"

_RESIDENT_FIELDS = {
    "name",
    "sex",
    "nation",
    "birth_date",
    "address",
    "id_number",
    "authority",
    "valid_from",
    "valid_to",
}
_FOREIGN_FIELDS = {
    "english_name", "chinese_name", "sex", "card_number", "nationality", "birth_date", "valid_from", "valid_to",
}  # fmt: skip
_OPTIONAL = {"kind", "description", "card_version", "authority_code"}


class ProfileError(ValueError):
    """A card profile file that cannot be used; the message names the file, the field and the fix."""


def opaque_photo(seed: str, size: int = PHOTO_SIZE) -> bytes:
    """Deterministic stand-in for a WLT photo blob."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def _date_or_long_term(value: Any, where: str) -> date | None:
    return None if value == LONG_TERM else _date(value, where, allow_long_term=True)


def _date(value: Any, where: str, allow_long_term: bool = False) -> date:
    if not isinstance(value, str):
        raise ProfileError(
            f"{where}: give a date as a string YYYY-MM-DD" + (" or 长期" if allow_long_term else "")
        )
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ProfileError(f"{where}: {value!r} is not a date; write it as YYYY-MM-DD") from None


def _sex(value: Any, where: str) -> Sex:
    for sex in Sex:
        if value in (sex.label, sex.value):
            return sex
    raise ProfileError(f"{where}: sex must be 男 or 女 (or the codes 1/2), got {value!r}")


def _nation(value: Any, where: str) -> str:
    if isinstance(value, str) and value in NATIONS:
        return value
    if isinstance(value, str) and value.removesuffix("族") in NATION_CODES:
        return NATION_CODES[value.removesuffix("族")]
    raise ProfileError(
        f"{where}: nation {value!r} is neither a GB 3304 code (01..56, 97, 98) nor a name like 汉 or 藏"
    )


def card_from_profile(data: dict[str, Any], source: str, photo_seed: str) -> Card:
    """Build and validate a card from one profile's parsed JSON; ``source`` names the file in errors."""
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: the file must hold one JSON object")
    kind = data.get("kind", CardType.RESIDENT.value)
    required = _FOREIGN_FIELDS if kind == CardType.FOREIGN_PERMANENT_RESIDENT.value else _RESIDENT_FIELDS
    if kind not in (CardType.RESIDENT.value, CardType.FOREIGN_PERMANENT_RESIDENT.value):
        raise ProfileError(f"{source}: kind {kind!r} must be 'resident' or 'foreign_permanent_resident'")
    missing = sorted(required - data.keys())
    if missing:
        raise ProfileError(f"{source}: missing field(s) {', '.join(missing)}")
    unknown = sorted(data.keys() - required - _OPTIONAL)
    if unknown:
        raise ProfileError(
            f"{source}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(required | _OPTIONAL))}"
        )
    for key in required | (_OPTIONAL & data.keys()):
        if not isinstance(data[key], str):
            raise ProfileError(f"{source}: field {key!r} must be a string")
    photo = opaque_photo(photo_seed)
    try:
        if kind == CardType.FOREIGN_PERMANENT_RESIDENT.value:
            card: Card = ForeignResidentCard(
                english_name=data["english_name"],
                chinese_name=data["chinese_name"],
                sex=_sex(data["sex"], f"{source}: field 'sex'"),
                card_number=data["card_number"],
                nationality=data["nationality"],
                birth_date=_date(data["birth_date"], f"{source}: field 'birth_date'"),
                valid_from=_date(data["valid_from"], f"{source}: field 'valid_from'"),
                valid_to=_date_or_long_term(data["valid_to"], f"{source}: field 'valid_to'"),
                card_version=data.get("card_version", ""),
                authority_code=data.get("authority_code", ""),
                photo=photo,
            )
        else:
            card = IdCard(
                name=data["name"],
                sex=_sex(data["sex"], f"{source}: field 'sex'"),
                nation_code=_nation(data["nation"], f"{source}: field 'nation'"),
                birth_date=_date(data["birth_date"], f"{source}: field 'birth_date'"),
                address=data["address"],
                id_number=data["id_number"],
                authority=data["authority"],
                valid_from=_date(data["valid_from"], f"{source}: field 'valid_from'"),
                valid_to=_date_or_long_term(data["valid_to"], f"{source}: field 'valid_to'"),
                photo=photo,
            )
        card.validate()
        # Encoding checks the field widths (a name longer than the card holds, ...).
        encode_text_block(card)
    except CardDataError as exc:
        raise ProfileError(f"{source}: {exc}") from None
    return card


def load_profile(path: Path) -> Card:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ProfileError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read it: {exc.strerror}") from None
    return card_from_profile(data, str(path), photo_seed=path.stem)


def load_profiles(directory: Path = DEFAULT_CARDS_DIR) -> dict[str, Card]:
    """Every ``*.json`` in ``directory``, keyed by file name without ``.json`` (what ``place NAME`` takes)."""
    if not directory.is_dir():
        raise ProfileError(f"{directory}: no such directory of card profiles (pass --cards DIR)")
    cards = {path.stem: load_profile(path) for path in sorted(directory.glob("*.json"))}
    if not cards:
        raise ProfileError(f"{directory}: holds no *.json card profiles")
    return cards
