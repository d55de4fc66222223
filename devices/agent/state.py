"""What the agent remembers across restarts: the last event seq it handled and the commands it carried out.

The seq goes to the server as ``since`` in ``agent_hello``, so commands sent while the agent was stopped reach
it; the command ids make sure a command replayed that way (or sent twice) is carried out at most once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

log = logging.getLogger(__name__)

KEEP_COMMANDS = 500


class AgentState:
    """Thread-safe; every change is written at once (small file, atomic replace)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seq: int | None = None
        self._commands: OrderedDict[str, None] = OrderedDict()
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("agent state %s unreadable (%s); starting without it", self.path, exc)
            return
        seq = data.get("seq") if isinstance(data, dict) else None
        self._seq = seq if isinstance(seq, int) and seq >= 0 else None
        for command_id in data.get("commands", []) if isinstance(data, dict) else []:
            if isinstance(command_id, str):
                self._commands[command_id] = None

    @property
    def seq(self) -> int | None:
        with self._lock:
            return self._seq

    def set_seq(self, seq: int) -> None:
        """Record a handled event's seq (kept as the highest seen)."""
        with self._lock:
            if self._seq is not None and seq <= self._seq:
                return
            self._seq = seq
            self._save()

    def reset_seq(self, seq: int) -> None:
        """The server's log restarted below what we saw (a new database): follow it."""
        with self._lock:
            self._seq = seq
            self._save()

    def claim_command(self, command_id: str) -> bool:
        """True the first time a command id is seen (the caller carries it out); False for a repeat."""
        with self._lock:
            if command_id in self._commands:
                return False
            self._commands[command_id] = None
            while len(self._commands) > KEEP_COMMANDS:
                self._commands.popitem(last=False)
            self._save()
            return True

    def _save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        payload = {"seq": self._seq, "commands": list(self._commands)}
        try:
            tmp.write_text(json.dumps(payload), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:  # a full disk must not stop the agent; it only forgets more on a restart
            log.warning("cannot save agent state to %s: %s", self.path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink()
