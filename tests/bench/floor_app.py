"""The floors the per-operation benchmark compares OneWindow with, served exactly as `onewindow serve` serves:

    python -m tests.bench.floor_app <gevent|threading> <hello|ticket> <port> [<sqlite file>] [--nagle]

* hello   a bare Flask app: POST / answers a small JSON object (the cost of HTTP + Flask + the server);
* ticket  a bare durable ticket: POST / runs one SQLite transaction (WAL, synchronous=FULL, BEGIN IMMEDIATE) that
          increments a per-queue counter and inserts a ticket row, then answers its number as JSON.

Same server classes as OneWindow (gevent's pywsgi with the TCP_NODELAY handler, or werkzeug with it); ``--nagle``
uses the stock handler instead, to show the delayed-ACK stall the server no longer has. 127.0.0.1 only.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and sys.argv[1] == "gevent":
    from gevent import monkey

    monkey.patch_all()

import logging  # noqa: E402
import sqlite3  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from flask import Flask, jsonify  # noqa: E402

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (queue TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, number TEXT NOT NULL,
                                    status TEXT NOT NULL, issued_at REAL NOT NULL);
"""


def make_app(kind: str, db: str | None) -> Flask:
    app = Flask(__name__)
    local = threading.local()

    def conn() -> sqlite3.Connection:
        c = getattr(local, "conn", None)
        if c is None:
            c = sqlite3.connect(db, isolation_level=None, timeout=30, check_same_thread=False)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=FULL")
            local.conn = c
        return c

    if kind == "ticket":
        setup = sqlite3.connect(db)
        setup.executescript(SCHEMA)
        setup.close()

    @app.post("/")
    def handle():  # type: ignore[no-untyped-def]
        if kind == "hello":
            return jsonify({"ok": True, "number": "A001"}), 201
        c = conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute("INSERT INTO counters(queue, value) VALUES ('a', 1) "
                      "ON CONFLICT(queue) DO UPDATE SET value = value + 1")
            seq = c.execute("SELECT value FROM counters WHERE queue = 'a'").fetchone()[0]
            number = f"A{seq:03d}"
            c.execute("INSERT INTO tickets(queue, number, status, issued_at) VALUES ('a', ?, 'waiting', ?)",
                      (number, time.time()))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return jsonify({"ok": True, "number": number}), 201

    @app.get("/health")
    def health():  # type: ignore[no-untyped-def]
        return {"status": "ok"}

    return app


def main() -> None:
    mode, kind, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    db = sys.argv[4] if len(sys.argv) > 4 and not sys.argv[4].startswith("--") else None
    nagle = "--nagle" in sys.argv
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # as `onewindow serve` (log_output=False)
    app = make_app(kind, db)
    if mode == "gevent":
        from gevent import pywsgi

        from queue_server.serving import gevent_handler_class

        handler = pywsgi.WSGIHandler if nagle else gevent_handler_class()
        pywsgi.WSGIServer(("127.0.0.1", port), app, handler_class=handler, log=None).serve_forever()
    else:
        from werkzeug.serving import WSGIRequestHandler, run_simple

        from queue_server.serving import NoDelayRequestHandler

        run_simple("127.0.0.1", port, app, threaded=True,
                   request_handler=WSGIRequestHandler if nagle else NoDelayRequestHandler)


if __name__ == "__main__":
    main()
