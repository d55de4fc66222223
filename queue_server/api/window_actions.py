"""The window actions, one table for the REST routes and the Socket.IO ``window_action`` event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from ..services import windows
from ..services.context import Actor, HallContext
from .schemas import CallTicketBody, EmptyBody, HoldBody, PauseBody, TransferBody

WindowCall = Callable[[HallContext, str, Actor, Any], dict[str, Any]]

WINDOW_ACTIONS: dict[str, tuple[str, type[BaseModel], Callable[[HallContext, str, Actor, Any], dict[str, Any]]]] = {
    "open": ("open the window for the day", EmptyBody, lambda c, w, a, b: windows.open_window(c, w, a)),
    "call-next": ("call the next ticket by the calling policy", EmptyBody,
                  lambda c, w, a, b: windows.call_next(c, w, a)),
    "call": ("call a chosen waiting ticket", CallTicketBody,
             lambda c, w, a, b: windows.call_ticket(c, w, b.ticket_id, a)),
    "recall": ("call the current ticket again", EmptyBody, lambda c, w, a, b: windows.recall(c, w, a)),
    "start": ("the visitor has arrived: start service", EmptyBody, lambda c, w, a, b: windows.start(c, w, a)),
    "finish": ("service finished", EmptyBody, lambda c, w, a, b: windows.finish(c, w, a)),
    "no-show": ("the called visitor did not come (过号)", EmptyBody, lambda c, w, a, b: windows.no_show(c, w, a)),
    "hold": ("put the current ticket aside (挂起)", HoldBody, lambda c, w, a, b: windows.hold(c, w, a, b.reason)),
    "call-back": ("call a held ticket back (回呼)", CallTicketBody,
                  lambda c, w, a, b: windows.call_back(c, w, b.ticket_id, a)),
    "transfer": ("transfer a ticket to another queue or window", TransferBody,
                 lambda c, w, a, b: windows.transfer(c, w, a, ticket_id=b.ticket_id, to_queue=b.to_queue,
                                                     to_window=b.to_window, position=b.position)),
    "pause": ("pause service (暂停服务)", PauseBody, lambda c, w, a, b: windows.pause(c, w, a, b.reason)),
    "resume": ("resume service", EmptyBody, lambda c, w, a, b: windows.resume(c, w, a)),
    "close": ("close the window for the day", EmptyBody, lambda c, w, a, b: windows.close_for_day(c, w, a)),
}
