"""The simulators' control channel: JSON lines over a loopback TCP socket.

A technician (``onewindow sim ctl URL CMD ...``) or a test sends one JSON object per line, e.g.
``{"cmd": "fault", "name": "paper_out", "on": true}``; the simulator answers one JSON line,
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Each simulator declares its commands in a
:class:`ControlTable`, which adds ``fault``, ``status`` and ``help`` the same way for all of them.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devices.common.faults import FaultBoard

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ControlError(Exception):
    """A control command that the simulator refused; the message says why and what is allowed."""


class _RequestHandler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        for raw in self.rfile:
            line = raw.strip()
            if not line:
                continue
            try:
                request = json.loads(line)
                if not isinstance(request, dict) or "cmd" not in request:
                    raise ControlError('send a JSON object with a "cmd" field, e.g. {"cmd": "status"}')
                reply = {"ok": True, **(self.server.handler(request) or {})}
            except json.JSONDecodeError as exc:
                reply = {"ok": False, "error": f"not JSON: {exc.msg} at column {exc.colno}"}
            except ControlError as exc:
                reply = {"ok": False, "error": str(exc)}
            except Exception as exc:  # a control command must never kill the simulator
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            self.wfile.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
            self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: Handler) -> None:
        self.handler = handler
        super().__init__(address, _RequestHandler)


class ControlServer:
    """Serves a handler on 127.0.0.1; ``url`` is ``tcp://127.0.0.1:PORT``."""

    def __init__(self, handler: Handler, port: int = 0) -> None:
        self._server = _Server(("127.0.0.1", port), handler)
        # A short poll interval so close() returns at once instead of after the default half second.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sim-control", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"tcp://{host}:{port}"

    def start(self) -> ControlServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def send_control(url: str, request: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send one command to a simulator's control channel and return its reply."""
    if not url.startswith("tcp://"):
        raise ControlError(f"control URL must look like tcp://127.0.0.1:PORT, got {url!r}")
    host, _, port = url[len("tcp://"):].rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(json.dumps(request, ensure_ascii=False).encode() + b"\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    return json.loads(reply)


# ----------------------------------------------------------------------------------------- the command table

Run = Callable[[dict[str, Any], list[Any]], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Command:
    """One control command: ``run(request, args)`` returns the reply's fields (None: just ``ok``)."""

    run: Run
    usage: str  # "place NAME    put a card on the reader": the first word is the command


def fault_request(request: dict[str, Any]) -> tuple[str, bool, int | None, Any]:
    """``fault NAME on|off [VALUE] [count=N]`` as (name, on, count, value), read the same way for every device.

    The value may also come as ``seconds`` or ``mm_s`` (the names the first simulators used)."""
    name = request.get("name")
    if not isinstance(name, str) or not name:
        raise ControlError("fault needs a name: fault NAME on|off [VALUE] [count=N]")
    value = request.get("value", request.get("seconds", request.get("mm_s")))
    return name, request.get("on", True), request.get("count"), value


class ControlTable:
    """The commands a simulator answers: its own, plus ``fault``, ``status`` and ``help``, shared by all.

    ``fault`` sets the simulator's :class:`~devices.common.faults.FaultBoard` (through ``set_fault`` when given,
    so a simulator can react), ``status`` returns ``status()``, ``help`` the usage lines.
    """

    def __init__(self, commands: dict[str, Command], *, status: Callable[[], dict[str, Any]],
                 faults: FaultBoard | None = None, set_fault: Callable[..., str] | None = None,
                 after_fault: Callable[[str], dict[str, Any]] | None = None) -> None:
        self.faults = faults
        self._status = status
        self._set_fault = set_fault or (faults.set if faults is not None else None)
        self._after_fault = after_fault or (lambda text: {"text": text})
        table: dict[str, Command] = {}
        if faults is not None:
            table["fault"] = Command(self._fault, "fault NAME on|off [VALUE] [count=N]   faults: "
                                                  + " ".join(faults.names))
        table["status"] = Command(lambda _r, _a: self._status(), "status   state and faults")
        table.update(commands)
        table.setdefault("help", Command(lambda _r, _a: {"text": self.help_text()}, "help   this list"))
        self.commands = table

    def help_text(self) -> str:
        return "\n".join("  " + c.usage for c in self.commands.values())

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Serve one request; ControlError says what was wrong and what is allowed."""
        cmd = str(request.get("cmd", "")).lower()
        command = self.commands.get(cmd)
        if command is None:
            raise ControlError(f"unknown command {cmd!r}; commands: {', '.join(self.commands)}")
        return command.run(request, list(request.get("args") or [])) or {"text": "ok"}

    def _fault(self, request: dict[str, Any], _args: list[Any]) -> dict[str, Any]:
        assert self._set_fault is not None
        name, on, count, value = fault_request(request)
        return self._after_fault(self._set_fault(name, on, count=count, value=value))
