"""Personal data on public surfaces: masked names, ID numbers and phone numbers; ID number validation."""

from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")


def id_check_char(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def validate_id_number(value: str) -> str:
    """The normalised 18-character resident ID number, or ValueError saying what is wrong."""
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
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def mask_name(name: str) -> str:
    """张三 -> 张*, 王小娜 -> 王*娜, 欧阳小明 -> 欧**明; Latin names keep the first letter."""
    n = name.strip()
    if len(n) <= 1:
        return n
    if len(n) == 2:
        return n[0] + "*"
    return n[0] + "*" * (len(n) - 2) + n[-1]


def mask_id(id_number: str) -> str:
    v = id_number.strip()
    if len(v) < 8:
        return "*" * len(v)
    return v[:4] + "*" * (len(v) - 8) + v[-4:]


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
