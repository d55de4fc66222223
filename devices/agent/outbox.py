"""Inputs waiting for the server: a JSONL file, appended before sending, rewritten without an input once acked.

Every input (card read, code scanned, rating given) gets an ``input_id`` (a uuid) here and is written and fsynced
before anything is sent, so a server or network drop, or the agent itself stopping, loses nothing: the agent
sends what is left, oldest first, when it is connected again. The server takes each ``input_id`` once, so an
input sent twice (acked, but the agent stopped before it could remove it) is not counted twice.

The file holds personal data until the server has it: it is created readable by its owner only (0600), and an
input leaves it as soon as it is acknowledged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devices.contract.messages import DeviceInput

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class OutboxEntry:
    """One input as the server receives it (``device_input``), plus when the agent took it."""

    input_id: str
    device: str
    kind: str
    data: dict[str, Any] = field(repr=False)  # may hold an ID number: never in a repr or a log
    queued_at: str = ""

    def message(self, station: str) -> dict[str, Any]:
        return DeviceInput(station=station, device=self.device, input_id=self.input_id, kind=self.kind,
                           data=self.data).model_dump()


class Outbox:
    """A FIFO of inputs on disk. Thread-safe; :meth:`wait` lets a sender sleep until there is something."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cond = threading.Condition()
        self._entries: list[OutboxEntry] = []
        self.skipped_lines = 0
        self._load()

    # ------------------------------------------------------------------------------------------------- loading

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        seen: set[str] = set()
        for number, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                entry = OutboxEntry(str(item["input_id"]), str(item["device"]), str(item["kind"]),
                                    dict(item["data"]), str(item.get("queued_at", "")))
            except (ValueError, KeyError, TypeError):
                # A line torn by a crash mid-write (only ever the last one) or damaged by hand: skip it.
                self.skipped_lines += 1
                log.warning("outbox %s: line %d is not a complete input; skipped", self.path, number)
                continue
            if entry.input_id not in seen:
                seen.add(entry.input_id)
                self._entries.append(entry)
        if self.skipped_lines:
            self._rewrite()
        if self._entries:
            log.info("outbox %s: %d input(s) from before the restart will be sent", self.path, len(self._entries))

    # ------------------------------------------------------------------------------------------------- the queue

    def add(self, device: str, kind: str, data: dict[str, Any]) -> OutboxEntry:
        """Store a new input durably and return it; it stays until :meth:`ack`."""
        entry = OutboxEntry(uuid.uuid4().hex, device, kind, data, datetime.now(UTC).isoformat(timespec="seconds"))
        line = json.dumps(asdict(entry), ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        with self._cond:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._entries.append(entry)
            self._cond.notify_all()
        return entry

    def ack(self, input_id: str) -> bool:
        """The server has the input: remove it (the file is rewritten atomically). False if it was not here."""
        with self._cond:
            before = len(self._entries)
            self._entries = [e for e in self._entries if e.input_id != input_id]
            if len(self._entries) == before:
                return False
            self._rewrite()
            self._cond.notify_all()
            return True

    def first(self) -> OutboxEntry | None:
        with self._cond:
            return self._entries[0] if self._entries else None

    def pending(self) -> list[OutboxEntry]:
        with self._cond:
            return list(self._entries)

    def __len__(self) -> int:
        with self._cond:
            return len(self._entries)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for an input to be present; True if there is one."""
        with self._cond:
            if not self._entries:
                self._cond.wait(timeout)
            return bool(self._entries)

    def wake(self) -> None:
        """Wake a sender sleeping in :meth:`wait` (it should look at its other work)."""
        with self._cond:
            self._cond.notify_all()

    def _rewrite(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for entry in self._entries:
                os.write(fd, json.dumps(asdict(entry), ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        with contextlib.suppress(OSError):  # make the rename itself durable where the platform allows it
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
