"""Masking personal data inside free text (scanned codes, messages) before it reaches a log or a terminal."""

from __future__ import annotations

import re

from devices.contract.privacy import mask_id, mask_phone

# An 18-character resident ID number (17 digits and a check character) or a 15-character
# foreign permanent-resident number (3 letters, 12 digits).
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|[A-Z]{3}\d{12})(?![0-9A-Za-z])")
# A mainland mobile number: 11 digits starting with 1.
_PHONE_LIKE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def redact_text(text: str) -> str:
    """``text`` with ID-number-like and phone-like runs masked; everything else unchanged."""
    text = _ID_LIKE.sub(lambda m: mask_id(m.group()), text)
    return _PHONE_LIKE.sub(lambda m: mask_phone(m.group()), text)
