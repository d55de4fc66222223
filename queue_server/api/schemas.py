"""Request bodies of the REST API and the Socket.IO actions, validated with pydantic."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ..domain.flows import LegalReason
from .bounds import DbId


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IssueTicketBody(Body):
    queue_id: str | None = Field(default=None, max_length=40, description="queue to join, e.g. 'a'; or give item_id")
    item_id: str | None = Field(default=None, max_length=40, description="service item; its queue is used")
    id_number: str | None = Field(default=None, max_length=40, description="from the ID-card read: one open ticket per person "
                                  "per queue; never stored or returned")
    name: str | None = Field(default=None, max_length=40, description="stored masked only (王*娜)")
    birth_date: date | None = None
    legal_reason: LegalReason | None = None
    appointment_code: str | None = Field(default=None, max_length=64)
    green: StrictBool = Field(default=False, description="green channel (绿色通道): staff only; true or false, "
                              "never \"yes\"")
    source: str | None = Field(default=None, max_length=40, description="kiosk or device id")
    card_input_id: str | None = Field(default=None, max_length=64, description="the input id of a card read "
                                      "reported by the kiosk's device agent (priority by age, one ticket per person)")


class CallTicketBody(Body):
    ticket_id: DbId


class HoldBody(Body):
    reason: str | None = Field(default=None, max_length=100)


class PauseBody(Body):
    reason: str | None = Field(default=None, max_length=100)


class TransferBody(Body):
    ticket_id: DbId | None = Field(default=None, description="a held ticket of this window; default: the current one")
    to_queue: str | None = Field(default=None, max_length=40)
    to_window: str | None = Field(default=None, max_length=40)
    position: Literal["front", "back", "original"] = "back"


class EmptyBody(Body):
    pass


class DeviceCommandBody(Body):
    device: Literal["printer", "led", "evaluator"]
    command: str = Field(description="printer: print; led: show, clear; evaluator: start_evaluation, "
                         "cancel_evaluation")
    args: dict = {}


class LoginBody(Body):
    username: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=200)


IDEMPOTENCY_KEY_MAX = 100  # idempotency_keys.key is varchar(100): the same bound on SQLite and PostgreSQL


class IssueTicketMessage(IssueTicketBody):
    """The Socket.IO ``issue_ticket`` payload: the REST body plus the retry key that REST sends as a header."""

    idempotency_key: str | None = Field(default=None, min_length=1, max_length=IDEMPOTENCY_KEY_MAX,
                                        description="the same key on a retry never issues a second ticket")
