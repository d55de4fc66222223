"""Masking personal data before it reaches logs or stdout: names as 王*娜, ID numbers as 6201**********123X."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """Keep the first and last character: 王丽娜 -> 王*娜, 王娜 -> 王*, 欧阳娜娜 -> 欧**娜."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_number(number: str) -> str:
    """Keep the first four and last four characters of an ID number."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
