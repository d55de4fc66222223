"""The layering rules of docs/architecture.md, checked on the source: who may import whom, and no cycles.

Every ``import`` in the package sources counts, including those inside functions (an import moved into a function
to dodge a cycle is still a cycle); only ``if TYPE_CHECKING:`` blocks are left out, since they never run.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PACKAGES = ("queue_server", "devices", "kiosk", "display")
OURS = (*PACKAGES, "config", "tests")

# Server modules that may reach the device side beyond the contract: the one `onewindow` command line starts the
# simulators and agents (`onewindow sim`, `onewindow agent`, `onewindow hall`); the server itself opens no device.
SERVER_CLI_ENTRY_POINTS = {"queue_server.commands", "queue_server.hall_runner"}
# Device-side modules any server module may read: the devices.toml model (which station serves which window),
# data and validation only, no driver.
DEVICE_DATA_MODULES = ("devices.contract", "devices.stations")
# Frameworks and I/O the pure domain must not touch.
NOT_IN_DOMAIN = {"flask", "flask_socketio", "flask_wtf", "sqlalchemy", "alembic", "socketio", "engineio", "requests",
                 "redis", "psycopg", "gevent", "serial", "werkzeug", "jinja2", "yaml"}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # dotted module (or module.name) imported
    line: int

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path) -> Iterator[Import]:
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = _type_checking_lines(tree)
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                yield Import(name, f"{module}.{alias.name}", node.lineno)


def source_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "migrations" in path.parts and "versions" in path.parts:
                continue  # generated Alembic revisions
            files.append(path)
    return files


ALL_IMPORTS = [imp for path in source_files() for imp in imports_of(path)]
MODULES = {module_name(path) for path in source_files()}


def resolve(target: str) -> str | None:
    """The module of ours that ``target`` (a module, or a name in a module) names; None for other code."""
    while target:
        if target in MODULES:
            return target
        target = target.rpartition(".")[0]
    return None


def is_under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def top(target: str) -> str:
    return target.split(".")[0]


def test_the_source_tree_is_found() -> None:
    assert {"queue_server.domain.cases", "devices.contract.privacy", "queue_server.app"} <= MODULES
    assert len(ALL_IMPORTS) > 500


def test_domain_imports_nothing_of_ours_but_domain_and_the_contract_and_no_frameworks() -> None:
    bad = [str(i) for i in ALL_IMPORTS if is_under(i.importer, "queue_server.domain") and (
        (top(i.target) in OURS and not (is_under(i.target, "queue_server.domain")
                                        or is_under(i.target, "devices.contract")))
        or top(i.target) in NOT_IN_DOMAIN)]
    assert bad == [], "queue_server/domain is pure: " + "; ".join(bad)


def test_devices_import_only_devices() -> None:
    # config/ is data (files and their paths), not code: a device agent reads its devices.toml from there.
    bad = [str(i) for i in ALL_IMPORTS if is_under(i.importer, "devices") and top(i.target) in OURS
           and top(i.target) not in ("devices", "config")]
    assert bad == [], "devices/ may import nothing of ours but devices (and its contract): " + "; ".join(bad)


def test_the_contract_is_pure() -> None:
    allowed = set(sys.stdlib_module_names) | {"pydantic", "devices"}
    bad = [str(i) for i in ALL_IMPORTS if is_under(i.importer, "devices.contract")
           and (top(i.target) not in allowed or (top(i.target) == "devices"
                                                  and not is_under(i.target, "devices.contract")))]
    assert bad == [], "devices/contract: the standard library and pydantic only: " + "; ".join(bad)


def test_the_server_reaches_devices_only_through_the_contract() -> None:
    bad = [str(i) for i in ALL_IMPORTS if is_under(i.importer, "queue_server") and top(i.target) == "devices"
           and not any(is_under(i.target, m) for m in DEVICE_DATA_MODULES)
           and i.importer not in SERVER_CLI_ENTRY_POINTS]
    assert bad == [], "the server imports no driver: " + "; ".join(bad)


EDGE = ("queue_server.api", "queue_server.realtime", "queue_server.backoffice", "queue_server.pages")


def test_the_edge_reaches_the_database_only_through_services() -> None:
    bad = [str(i) for i in ALL_IMPORTS if any(is_under(i.importer, e) for e in EDGE)
           and is_under(i.target, "queue_server.store")]
    assert bad == [], "; ".join(bad)


def test_services_and_store_know_nothing_of_http_or_sockets() -> None:
    bad = [str(i) for i in ALL_IMPORTS
           if (is_under(i.importer, "queue_server.services") or is_under(i.importer, "queue_server.store"))
           and (any(is_under(i.target, e) for e in EDGE) or top(i.target) in ("flask", "flask_socketio", "socketio"))]
    assert bad == [], "; ".join(bad)


def test_front_ends_do_not_import_the_device_side() -> None:
    bad = [str(i) for i in ALL_IMPORTS if top(i.importer) in ("kiosk", "display") and top(i.target) == "devices"]
    assert bad == [], "; ".join(bad)


def _cycles() -> list[list[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in ALL_IMPORTS:
        target = resolve(imp.target)
        # A package's __init__ importing its own submodules is how Python packages are built, not a cycle.
        if target is not None and target != imp.importer and not is_under(target, imp.importer):
            graph[imp.importer].add(target)
    # Tarjan's strongly connected components.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


# Cycles tolerated for now (none): the list may only shrink.
KNOWN_CYCLES: list[list[str]] = []


def test_no_import_cycles() -> None:
    found = _cycles()
    cycles = [c for c in found if c not in KNOWN_CYCLES]
    assert cycles == [], "import cycles (each line one strongly connected group): " + " | ".join(
        " <-> ".join(c) for c in cycles)
    assert [c for c in KNOWN_CYCLES if c not in found] == [], "a known cycle is gone: remove it from KNOWN_CYCLES"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_over_500_lines(package: str) -> None:
    long = {module_name(p): n for p in source_files() if top(module_name(p)) == package
            and (n := len(p.read_text(encoding="utf-8").splitlines())) > LINE_LIMIT}
    assert set(long) <= KNOWN_LONG_MODULES, f"modules over {LINE_LIMIT} lines: {long}"
    known_here = {m for m in KNOWN_LONG_MODULES if top(m) == package}
    assert known_here <= set(long), f"now short enough, remove from KNOWN_LONG_MODULES: {known_here - set(long)}"


LINE_LIMIT = 500
# Over the limit today, each to be split when next worked on; the set may only shrink.
KNOWN_LONG_MODULES: set[str] = set()


# What reads configuration files: the start-up loaders, the config package (its paths) and YAML itself.
CONFIG_READERS = ("config", "queue_server.hall_config", "queue_server.case_config", "queue_server.kiosk_config",
                  "queue_server.i18n", "yaml")


def test_services_take_their_configuration_from_the_context() -> None:
    """Configuration is read and checked once at start (create_app) into the HallContext; a service that opened
    a file would find a broken one only when a citizen's request needs it."""
    bad = [str(i) for i in ALL_IMPORTS if is_under(i.importer, "queue_server.services")
           and any(is_under(i.target, c) for c in CONFIG_READERS)]
    assert bad == [], "; ".join(bad)
