"""The Socket.IO payloads between a device agent and the server.

Agent → server: ``agent_hello``, ``device_health``, ``device_input``, ``command_result`` (each acknowledged).
Server → agent: ``device_command`` (an event in the hall's log, so it carries ``seq`` and ``at``).
The server validates what it receives with these models; the agent builds what it sends with them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_NAME = 40  # station and window ids
MAX_KIND = 20  # device kinds, statuses, input kinds
MAX_INPUT_ID = 64
MAX_COMMAND_ID = 60
MAX_ERROR = 500
MAX_SEQ = 2**31 - 1  # event sequence numbers are int4 on PostgreSQL


class AgentHello(BaseModel):
    """An agent announces its station (and the window it serves) and asks for the events after ``since``."""

    model_config = ConfigDict(extra="forbid")
    station: str = Field(max_length=MAX_NAME)
    window_id: str | None = Field(default=None, max_length=MAX_NAME, description="must match devices.toml if given")
    since: int | None = Field(default=None, ge=0, le=MAX_SEQ)
    devices: dict[str, str] = {}
    version: str | None = Field(default=None, max_length=MAX_NAME, description="the agent's software version")


class DeviceHealth(BaseModel):
    """A device's state: ``status`` ok / warning / error / offline / unknown, details per kind (paper, cover)."""

    model_config = ConfigDict(extra="forbid")
    station: str = Field(max_length=MAX_NAME)
    device: str = Field(max_length=MAX_KIND)
    status: str = Field(max_length=MAX_KIND)
    detail: dict[str, Any] | None = None


class DeviceInput(BaseModel):
    """Something a citizen did at a device (card read, scan, rating); ``input_id`` makes redelivery harmless."""

    model_config = ConfigDict(extra="forbid")
    station: str = Field(max_length=MAX_NAME)
    device: str = Field(max_length=MAX_KIND)
    input_id: str = Field(max_length=MAX_INPUT_ID)
    kind: str = Field(max_length=MAX_KIND)
    data: dict[str, Any] = {}


class CommandResult(BaseModel):
    """The outcome of one ``device_command``; ``ok`` is the command's, the server's reply acknowledges the record."""

    model_config = ConfigDict(extra="forbid")
    station: str = Field(max_length=MAX_NAME)
    command_id: str = Field(max_length=MAX_COMMAND_ID)  # and at least 1, checked by the server in its own words
    ok: bool
    error: str | None = Field(default=None, max_length=MAX_ERROR)
    result: dict[str, Any] | None = None


class DeviceCommand(BaseModel):
    """Work for one device of one station (print, show text, start an evaluation), carried out at most once."""

    model_config = ConfigDict(extra="ignore")  # log fields (seq, at, hall) ride along
    command_id: str = Field(min_length=1, max_length=MAX_COMMAND_ID)
    station: str
    device: str
    command: str
    args: dict[str, Any] = {}
    seq: int | None = None
    at: str | None = None
