"""Every route, Socket.IO event and event kind has a declared rule; the README's table is the declared policy."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from queue_server.app import create_app
from queue_server.extensions import socketio
from queue_server.policy import AUDIENCES, EVENTS, ROUTES, markdown_table
from queue_server.realtime.handlers import HANDLERS
from queue_server.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
KIND = re.compile(r"^[a-z]+(_[a-z]+)+$")
EMITTERS = {"append_event", "emit", "_emit"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    db = tmp_path_factory.mktemp("policy") / "p.db"
    return create_app(Settings(database=str(db), background_tasks=False, testing=True, sqlite_synchronous="OFF"))


def route_rows(app) -> list[tuple[str, str, str]]:
    return [(r.endpoint, ",".join(sorted(r.methods - {"HEAD", "OPTIONS"})), r.rule) for r in app.url_map.iter_rules()]


def test_every_route_has_a_declared_rule_and_every_rule_a_route(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    assert sorted(endpoints - ROUTES.keys()) == [], "declare these routes in queue_server/policy.py ROUTES"
    assert sorted(ROUTES.keys() - endpoints) == [], "these ROUTES entries name no route: remove them"


def test_every_socketio_event_has_a_declared_rule(app):
    registered = set(socketio.server.handlers["/"]) - {"connect", "disconnect"}
    assert registered == set(HANDLERS) == set(EVENTS), "every handler is registered with @event and declared"


def emitted_kinds() -> set[str]:
    """Event kinds passed as literals to the event emitters anywhere in the server."""
    found: set[str] = set()
    for path in (ROOT / "queue_server").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in EMITTERS:
                    found |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                              and KIND.match(a.value)}
    return found


def test_every_event_kind_has_an_audience():
    kinds = emitted_kinds()
    assert {"ticket_called", "device_command", "case_updated"} <= kinds  # the scan finds the emitters
    assert sorted(kinds - AUDIENCES.keys()) == [], "declare these event kinds in queue_server/policy.py AUDIENCES"


def test_readme_table_is_the_declared_policy(app):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    begin, end = "<!-- policy-table:begin -->\n", "<!-- policy-table:end -->"
    assert begin in readme and end in readme, "README needs the generated 'Who can do what' table"
    block = readme.split(begin, 1)[1].split(end, 1)[0]
    expected = markdown_table(route_rows(app))
    assert block == expected, "regenerate: `onewindow policy-table` and paste it between the markers"
