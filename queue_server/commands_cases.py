"""``onewindow`` sub-commands of the case module: ``evaluations export`` and ``cases supervision``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:
    from .services.context import HallContext


def _context(config_path: str | None, database: str | None, cases_path: str | None) -> HallContext:
    """A HallContext on the hall's database, for commands run beside (or without) the server."""
    from .case_config import load_case_settings
    from .clock import SystemClock
    from .domain.calling import DefaultCallingPolicy
    from .domain.errors import DomainError
    from .hall_config import ConfigError, load_calendar, load_hall
    from .services.context import HallContext, NullPublisher
    from .settings import Settings
    from .store.db import DatabaseError, check_connection, ensure_hall, make_engine, migrate

    try:
        config = load_hall(config_path)
        settings = load_case_settings(config, config_path, cases_path)
        engine = make_engine(database or Settings().database)
        check_connection(engine)
        migrate(engine)
        ensure_hall(engine, config.hall.id)
    except ConfigError as exc:
        click.echo(f"configuration errors ({len(exc.problems)}):", err=True)
        for p in exc.problems:
            click.echo(f"  - {p}", err=True)
        sys.exit(2)
    except (DatabaseError, DomainError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    ctx = HallContext(config=config, engine=engine, clock=SystemClock(), policy=DefaultCallingPolicy(config.calling),
                      calendar=load_calendar(), publisher=NullPublisher(), person_secret=b"unused-here",
                      case_settings=settings)
    return ctx


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-26", param_hint=name) from None


_options = [
    click.option("--config", "config_path", type=click.Path(dir_okay=False), help="hall config (YAML)"),
    click.option("--cases-config", "cases_path", type=click.Path(dir_okay=False),
                 help="case settings (default config/cases.yaml)"),
    click.option("--database", help="SQLite file path (default var/onewindow.db) or postgresql://host/db"),
]


def _with_options(f: F) -> F:
    for opt in reversed(_options):
        f = opt(f)
    return f


def register(cli: click.Group) -> None:
    """Add the case module's commands to the ``onewindow`` group."""

    @cli.group(help="好差评 evaluations.")
    def evaluations() -> None:
        pass

    @evaluations.command("export", help="Export evaluations for the provincial 好差评 system "
                                        "(format: docs/evaluations-export.md).")
    @click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
    @click.option("--since", help="first local date to include, e.g. 2026-11-01")
    @click.option("--until", help="last local date to include, e.g. 2026-11-30")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="file (default: stdout)")
    @_with_options
    def evaluations_export(fmt: str, since: str | None, until: str | None, output: str | None,
                           config_path: str | None, cases_path: str | None, database: str | None) -> None:
        from .services.evaluations import export

        ctx = _context(config_path, database, cases_path)
        chunks = export(ctx, fmt, _day(since, "--since"), _day(until, "--until"))
        if output:
            with open(output, "w", encoding="utf-8", newline="") as fh:
                n = 0
                for chunk in chunks:
                    fh.write(chunk)
                    n += chunk.count("\n")
            click.echo(f"wrote {output} ({n} lines, {fmt})", err=True)
        else:
            for chunk in chunks:
                click.echo(chunk, nl=False)
        ctx.engine.dispose()

    @cli.group(help="Cases (办件).")
    def cases() -> None:
        pass

    @cases.command("supervision", help="电子监察: list the yellow (near deadline) and red (overdue) cases.")
    @_with_options
    def cases_supervision(config_path: str | None, cases_path: str | None, database: str | None) -> None:
        from .domain.errors import DomainError
        from .services.cases.queues import supervision

        ctx = _context(config_path, database, cases_path)
        try:
            lists = supervision(ctx)
        except DomainError as exc:  # e.g. a hall without the case module
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        for colour, title in (("red", "红灯 overdue"), ("yellow", "黄灯 near deadline"), ("paused", "暂停 paused")):
            click.echo(f"{title}: {len(lists[colour])}")
            for c in lists[colour]:
                click.echo(f"  {c['number']}  {c['item_name']}  {c['department_name']}  due {c['due_on'] or '-'}  "
                           f"left {c.get('workdays_left', '-')}")
        ctx.engine.dispose()
