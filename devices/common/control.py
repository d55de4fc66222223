"""The simulators' control channel: JSON lines over a loopback TCP socket.

A technician (``onewindow sim ctl URL CMD ...``) or a test sends one JSON object per line, e.g.
``{"cmd": "fault", "name": "paper_out", "on": true}``; the simulator answers one JSON line,
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Each simulator decides which commands it knows
by the handler it passes in.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ControlError(Exception):
    """A control command that the simulator refused; the message says why and what is allowed."""


class _RequestHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for raw in self.rfile:
            line = raw.strip()
            if not line:
                continue
            try:
                request = json.loads(line)
                if not isinstance(request, dict) or "cmd" not in request:
                    raise ControlError('send a JSON object with a "cmd" field, e.g. {"cmd": "status"}')
                reply = {"ok": True, **(self.server.handler(request) or {})}  # type: ignore[attr-defined]
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


class ControlServer:
    """Serves a handler on 127.0.0.1; ``url`` is ``tcp://127.0.0.1:PORT``."""

    def __init__(self, handler: Handler, port: int = 0) -> None:
        self._server = _Server(("127.0.0.1", port), _RequestHandler)
        self._server.handler = handler  # type: ignore[attr-defined]
        # A short poll interval so close() returns at once instead of after the default half second.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sim-control", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
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
