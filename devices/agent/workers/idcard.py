"""The ID-card reader: find -> select -> read every few hundred ms; each newly placed card becomes a card_read.

The full record goes into the outbox for the server; the log only ever says a masked name and number.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from devices.agent.privacy import card_label, safe_error
from devices.agent.workers.base import DeviceWorker, Health
from devices.idcard.card import Card, IdCard
from devices.idcard.driver import IdCardReader
from devices.idcard.errors import IdCardError, NoCard, ReaderFault, ReaderTimeout, SamNotAuthorised

log = logging.getLogger("devices.agent.workers")


def card_read_data(card: Card, today: date) -> dict[str, Any]:
    """The ``card_read`` input: what the server needs (no address, no photo)."""
    expired = card.valid_to is not None and card.valid_to < today
    nation = card.nation if isinstance(card, IdCard) else card.nationality
    return {
        "id_number": card.id_number,
        "name": card.name,
        "birth_date": card.birth_date.isoformat(),
        "sex": card.sex.label,
        "nation": nation,
        "expired": expired,
        "card_type": card.card_type.value,
    }


class IdCardWorker(DeviceWorker):
    kind = "idcard"
    poll_interval = 0.3  # each poll is one find-card request; a placed card is read within this

    reader: IdCardReader | None = None
    cards_read = 0

    def open(self, url: str) -> None:
        self.reader = IdCardReader.open(url, baudrate=getattr(self.settings, "baudrate", 115200), timeout=0.5,
                                        retries=1)

    def close_device(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None

    def check(self) -> Health:
        assert self.reader is not None
        try:
            card = self.reader.read_card()
        except NoCard:
            return Health("ok")
        except ReaderTimeout as exc:
            return Health("offline", {"error": safe_error(exc)})
        except (SamNotAuthorised, ReaderFault) as exc:
            return Health("error", {"error": safe_error(exc)})
        except IdCardError as exc:  # a failed read, a damaged frame, a card that does not validate: try again
            log.info("%s/idcard: read failed: %s", self.host.station, safe_error(exc))
            return Health("warning", {"error": safe_error(exc)})
        self.cards_read += 1
        log.info("%s/idcard: card read (%s)", self.host.station, card_label(card.name, card.id_number))
        self.host.submit_input(self.kind, "card_read", card_read_data(card, date.today()))
        return Health("ok")
