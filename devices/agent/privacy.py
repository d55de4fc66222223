"""Keeping personal data out of the agent's logs.

The agent's own code logs only masked forms (:func:`card_label`). :class:`RedactingFilter` is the safety net on
the log handler: any ID-number-like or phone-like run that slips into a message (a driver's error text, a
scanned code) is masked before it is written.
"""

from __future__ import annotations

import logging

from devices.common.redaction import redact_text
from devices.contract.privacy import mask_id, mask_name


def card_label(name: str, id_number: str) -> str:
    """``李*然 6201**********0357``: what a log may say about a card."""
    return f"{mask_name(name)} {mask_id(id_number)}"


class RedactingFilter(logging.Filter):
    """Masks ID and phone numbers in every record that passes the handler it is attached to."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it as usual
            return True
        redacted = redact_text(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if redacted != message or record.args:
            record.msg, record.args = redacted, ()
        return True


def safe_error(exc: BaseException) -> str:
    """An exception as one line for a log, a health detail or a command result, with numbers masked."""
    text = str(exc) or type(exc).__name__
    return redact_text(text)

