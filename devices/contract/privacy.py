"""Personal data: masks for every public surface and log, and the resident ID number's check (GB 11643-1999).

Masking rules (one set, used by the server and the device agent alike):

* name: one character is hidden entirely (王 → *); two keep the first (张三 → 张*); longer keep the first and
  the last (王小娜 → 王*娜, 欧阳小明 → 欧**明). The same holds for Latin names (Tenzin → T****n).
* ID number: a resident number (15 or 18 characters) keeps its first four and last four
  (1101**********002X); anything shorter (a passport or permit number, a fragment) keeps only its first and last
  character, and three characters or fewer are hidden entirely — a short value never comes back readable.
* phone: eleven or more characters keep the first three and last four (139****5678, the usual mainland form);
  seven to ten keep two at each end; shorter are hidden entirely.
"""

from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")


def _keep_ends(value: str, head: int, tail: int) -> str:
    return value[:head] + "*" * (len(value) - head - tail) + (value[-tail:] if tail else "")


def mask_name(name: str) -> str:
    """A name with everything but its first (and, from three characters, its last) character hidden."""
    n = name.strip()
    if len(n) <= 1:
        return "*" * len(n)
    if len(n) == 2:
        return n[0] + "*"
    return _keep_ends(n, 1, 1)


def mask_id(id_number: str) -> str:
    """An ID number with its middle hidden: 1101**********002X; short values keep at most one character each end."""
    v = id_number.strip()
    if len(v) >= 15:
        return _keep_ends(v, 4, 4)
    if len(v) >= 4:
        return _keep_ends(v, 1, 1)
    return "*" * len(v)


def mask_phone(phone: str) -> str:
    """A phone number with its middle hidden: 139****5678."""
    v = phone.strip()
    if len(v) >= 11:
        return _keep_ends(v, 3, 4)
    if len(v) >= 7:
        return _keep_ends(v, 2, 2)
    return "*" * len(v)


def id_check_char(first17: str) -> str:
    """The check character (0-9 or X) for the first 17 digits of a resident ID number; ValueError otherwise."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError(f"the check character needs exactly 17 digits, got {len(first17)} characters")
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def validate_id_number(value: str) -> str:
    """The normalised 18-character resident ID number, or ValueError saying what is wrong (never quoting it)."""
    v = value.strip().upper()
    if not _ID_RE.match(v):
        raise ValueError("an ID number has 17 digits and a check character (0-9 or X)")
    try:
        date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        raise ValueError("the birth date inside the ID number (characters 7-14) is not a real date") from None
    if id_check_char(v[:17]) != v[17]:
        raise ValueError("the ID number's check character does not match; check the number for a typing error")
    return v


def birth_date_of(id_number: str) -> date:
    """The birth date written in characters 7-14 of a validated 18-character ID number."""
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
