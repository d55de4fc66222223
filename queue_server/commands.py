"""Sub-commands of ``onewindow``: serve, hall, backup, restore, check-config, sim, agent."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import click

from .serving import DEFAULT_READ_TIMEOUT
from .settings import ASYNC_MODES, DEFAULT_ASYNC_MODE, Settings

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from .backup import Summary
    from .domain.hall import HallConfig


@click.group(help="OneWindow: queue server, device simulators and agents for a government service hall.")
def cli() -> None:
    pass


def _parse_clock(value: str | None, tz: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a time like 2026-11-26T09:30") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(tz))


def _config_or_exit(path: str | None) -> HallConfig:
    from .hall_config import ConfigError, load_hall

    try:
        return load_hall(path)
    except ConfigError as exc:
        click.echo(f"configuration errors ({len(exc.problems)}):", err=True)
        for p in exc.problems:
            click.echo(f"  - {p}", err=True)
        sys.exit(2)


def _quiet_libraries() -> None:
    """Alembic's start-up chatter hides the lines a technician needs (the URLs, the errors)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _run_server(settings: Settings, host: str, port: int) -> None:
    from .app import create_app
    from .extensions import socketio
    from .hall_config import ConfigError
    from .serving import server_kwargs, settle_heap
    from .store.db import DatabaseError

    try:
        app = create_app(settings)
    except ConfigError as exc:
        click.echo(f"configuration errors ({len(exc.problems)}):", err=True)
        for p in exc.problems:
            click.echo(f"  - {p}", err=True)
        sys.exit(2)
    except DatabaseError as exc:
        click.echo(f"database error: {exc}", err=True)
        sys.exit(2)
    except RuntimeError as exc:  # settings that cannot work, e.g. PostgreSQL without the shared secrets
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"OneWindow serving {app.extensions['onewindow'].config.hall.name.zh} on http://{host}:{port}/ "
               f"(async mode {settings.async_mode}, database {settings.database})", err=True)
    sys.stderr.flush()
    kwargs = server_kwargs(settings.async_mode, settings.read_timeout)
    settle_heap()
    socketio.run(app, host=host, port=port, log_output=False, use_reloader=False, **kwargs)


def _server_options(f: F) -> F:
    options = [
        click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on"),
        click.option("--port", default=5000, show_default=True, type=int),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), help="hall config (YAML); "
                     "default: the bundled Hezuo configuration"),
        click.option("--database", help="SQLite file path (default var/onewindow.db) or postgresql://host/db"),
        click.option("--async-mode", type=click.Choice(ASYNC_MODES), default=DEFAULT_ASYNC_MODE, show_default=True,
                     envvar="ONEWINDOW_ASYNC_MODE"),
        click.option("--message-queue", help="redis://host:port/0 when several server processes serve one hall"),
        click.option("--always-open", is_flag=True, help="demo mode: issue tickets outside business hours"),
        click.option("--clock", help="start the clock at this local time (demos and tests), e.g. 2026-11-26T09:30"),
        click.option("--clock-speed", type=click.FloatRange(min=0, min_open=True, max=3600), default=1.0,
                     show_default=True, help="simulated seconds per real second (soak runs: 60 = an hour a minute); "
                     "starts at --clock, or now"),
        click.option("--log-level", default="INFO", show_default=True),
        click.option("--allowed-origin", "allowed_origins", multiple=True, metavar="URL",
                     help="an origin whose pages may open Socket.IO connections (repeatable). Default: the "
                     "server's own only; giving any replaces that, so list the server's own address too"),
        click.option("--secure-cookies", is_flag=True, envvar="ONEWINDOW_SECURE_COOKIES",
                     help="the hall is served over HTTPS (a reverse proxy): Secure cookies and an HSTS header"),
        click.option("--read-timeout", type=click.FloatRange(min=0.1), default=DEFAULT_READ_TIMEOUT,
                     show_default=True, help="seconds a client may take to send a request (line, headers, body); "
                     "a slower or half-open connection is closed (WebSockets are exempt)"),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def _settings(config_path: str | None, database: str | None, async_mode: str, message_queue: str | None,
              always_open: bool, clock: str | None, allowed_origins: tuple[str, ...] = (),
              secure_cookies: bool = False, clock_speed: float = 1.0) -> Settings:
    cfg = _config_or_exit(config_path)
    start = _parse_clock(clock, cfg.hall.timezone)
    if start is None and clock_speed != 1.0:
        start = datetime.now(ZoneInfo(cfg.hall.timezone))
    s = Settings(config_path=config_path, async_mode=async_mode, message_queue=message_queue,
                 always_open=always_open, clock_start=start, clock_speed=clock_speed,
                 allowed_origins=list(allowed_origins) or None, secure_cookies=secure_cookies)
    if database:
        s.database = database
    return s


@cli.command(help="Run the queue server.")
@_server_options
def serve(host: str, port: int, config_path: str | None, database: str | None, async_mode: str,
          message_queue: str | None, always_open: bool, clock: str | None, clock_speed: float, log_level: str,
          allowed_origins: tuple[str, ...], secure_cookies: bool, read_timeout: float) -> None:
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _quiet_libraries()
    settings = _settings(config_path, database, async_mode, message_queue, always_open, clock, allowed_origins,
                         secure_cookies, clock_speed)
    settings.read_timeout = read_timeout
    _run_server(settings, host, port)


@cli.command(help="Start the whole hall on embedded defaults: server, simulated devices and pages.")
@_server_options
@click.option("--devices", "devices_path", type=click.Path(dir_okay=False, exists=True),
              help="devices file for the simulators and agents (default: config/devices.toml)")
def hall(host: str, port: int, config_path: str | None, database: str | None, async_mode: str,
         message_queue: str | None, always_open: bool, clock: str | None, clock_speed: float, log_level: str,
         allowed_origins: tuple[str, ...], secure_cookies: bool, devices_path: str | None, read_timeout: float) -> None:
    from .hall_runner import run_hall

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _quiet_libraries()
    settings = _settings(config_path, database, async_mode, message_queue, always_open, clock, allowed_origins,
                         secure_cookies, clock_speed)
    settings.read_timeout = read_timeout
    run_hall(settings, host, port, lambda: _run_server(settings, host, port), devices_path=devices_path)


@cli.command("policy-table", help="Print the declared access policy as the README's Markdown table.")
@click.option("--readme", type=click.Path(exists=True, dir_okay=False), help="rewrite the table in this README "
              "(between its policy-table markers) instead of printing it")
def policy_table(readme: str | None) -> None:
    import tempfile

    from .app import create_app
    from .policy import markdown_table

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(database=f"{tmp}/policy.db", background_tasks=False, sqlite_synchronous="OFF"))
        rows = [(r.endpoint, ",".join(sorted((r.methods or set()) - {"HEAD", "OPTIONS"})), r.rule)
                for r in app.url_map.iter_rules()]
        app.extensions["onewindow"].engine.dispose()
    table = markdown_table(rows)
    if readme is None:
        click.echo(table, nl=False)
        return
    text = Path(readme).read_text(encoding="utf-8")
    begin, end = "<!-- policy-table:begin -->\n", "<!-- policy-table:end -->"
    if begin not in text or end not in text:
        raise click.ClickException(f"{readme} has no {begin.strip()} … {end} markers")
    head, rest = text.split(begin, 1)
    Path(readme).write_text(head + begin + table + end + rest.split(end, 1)[1], encoding="utf-8")
    click.echo(f"{readme}: policy table rewritten", err=True)


@cli.command(help="Copy the hall's database to OUT while the server runs (SQLite online backup; pg_dump for "
                  "PostgreSQL).")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--database", help="the database the server uses (default: var/onewindow.db)")
def backup(out: str, database: str | None) -> None:
    from .backup import BackupError
    from .backup import backup as take_backup

    try:
        summary = take_backup(database or Settings().database, Path(out))
    except BackupError as exc:
        click.echo(f"backup failed: {exc}", err=True)
        sys.exit(2)
    _say_summary(f"backup written to {summary.path}", summary)


@cli.command(help="Restore a backup made by `onewindow backup` into the database (refuses to overwrite one that "
                  "holds data without --force).")
@click.argument("backup_file", metavar="IN", type=click.Path(dir_okay=False))
@click.option("--database", help="the database to restore into (default: var/onewindow.db)")
@click.option("--force", is_flag=True, help="overwrite a database that already holds data (stop its server first)")
def restore(backup_file: str, database: str | None, force: bool) -> None:
    from .backup import BackupError
    from .backup import restore as put_back

    try:
        summary = put_back(Path(backup_file), database or Settings().database, force=force)
    except BackupError as exc:
        click.echo(f"restore refused: {exc}", err=True)
        sys.exit(2)
    _say_summary(f"restored {backup_file} into {summary.path}", summary)


def _say_summary(what: str, summary: Summary) -> None:
    """One line for a backup or a restore: what it holds (when known) and how long it took, then any note."""
    counts = f"{summary.tickets} tickets, {summary.cases} cases, " if summary.tickets >= 0 else ""
    click.echo(f"{what} ({counts}{summary.seconds:.2f} s)")
    if summary.note:
        click.echo(summary.note)


@cli.command("check-config", help="Check a hall configuration file and report every error in it.")
@click.argument("path", type=click.Path(dir_okay=False))
def check_config(path: str) -> None:
    from .hall_config import ConfigError
    from .i18n import load_texts
    from .kiosk_config import load_kiosk

    cfg = _config_or_exit(path)
    try:  # the kiosk's flows and appointment settings beside the hall file are checked against it
        load_kiosk(cfg, load_texts(), path)
    except ConfigError as exc:
        click.echo(f"configuration errors ({len(exc.problems)}):", err=True)
        for p in exc.problems:
            click.echo(f"  - {p}", err=True)
        sys.exit(2)
    click.echo(f"{path}: OK — {len(cfg.sites)} sites, {len(cfg.zones)} zones, {len(cfg.queues)} queues, "
               f"{len(cfg.windows)} windows, {len(cfg.items)} service items"
               + (" (sample data)" if cfg.sample_data else ""))


_PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


@cli.command(context_settings=_PASSTHROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sim(args: tuple[str, ...]) -> None:
    """Start a device simulator: onewindow sim <kind> [options]; onewindow sim --help lists the kinds."""
    from devices.sim_cli import main as sim_main

    sys.exit(sim_main(list(args)))


@cli.command(context_settings=_PASSTHROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def agent(args: tuple[str, ...]) -> None:
    """Run a station's device agent: onewindow agent --config FILE --station NAME."""
    from devices.agent.cli import main as agent_main

    sys.exit(agent_main(list(args)))




def _engine(database: str | None) -> Engine:
    from .store.db import DatabaseError, check_connection, make_engine, migrate

    s = Settings()
    try:
        engine = make_engine(database or s.database)
        check_connection(engine)
        migrate(engine)
    except DatabaseError as exc:
        click.echo(f"database error: {exc}", err=True)
        sys.exit(2)
    return engine


def _now() -> datetime:
    from .clock import SystemClock

    return SystemClock().now()


def _audit(engine: Engine, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    """Account and token changes made at the console are audited like those made in the browser, as ``cli:<user>``."""
    import getpass
    import os

    from .services.staff_admin import record_audit

    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's anonymous uid): still audit, by uid
        who = f"uid{os.getuid()}"
    record_audit(engine, _now(), f"cli:{who}", action, target, detail)


def _domain_errors(fn: Callable[P, R]) -> Callable[P, R]:
    import functools

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from .domain.errors import DomainError

        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(2)

    return wrapper


_db_option = click.option("--database", help="SQLite file path (default var/onewindow.db) or postgresql://host/db")


@cli.group(help="Staff accounts.")
def users() -> None:
    pass


@users.command("add", help="Add a member of staff; the password is asked for (or read from stdin).")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="name shown on panels, e.g. 李娜")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["window_staff", "approver", "supervisor", "technician", "admin"]))
@click.option("--window", "windows", multiple=True, help="window id this person serves (repeat)")
@click.option("--department", "departments", multiple=True, help="department id (approvers; repeat)")
@click.option("--post", help="post (岗位) shown on the evaluator pad")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
@_db_option
@_domain_errors
def users_add(username: str, display_name: str, roles: tuple[str, ...], windows: tuple[str, ...],
              departments: tuple[str, ...], post: str | None, password_stdin: bool, config_path: str | None,
              database: str | None) -> None:
    from .services import staff as staff_service

    cfg = _config_or_exit(config_path)
    engine = _engine(database)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    member = staff_service.add_user(engine, _now(), username, display_name, password, list(roles),
                                    list(windows), list(departments), post,
                                    known_windows={w.id for w in cfg.windows})
    _audit(engine, "add", member.username, {"roles": list(member.roles), "windows": list(member.windows),
                                             "departments": list(departments)})
    click.echo(f"added {member.username} ({member.display_name}): roles {', '.join(member.roles)}; windows "
               f"{', '.join(member.windows) or '-'}")


@users.command("list", help="List staff accounts.")
@_db_option
def users_list(database: str | None) -> None:
    from .services import staff as staff_service

    for m in staff_service.list_users(_engine(database)):
        state = "disabled" if m.disabled else "active"
        click.echo(f"{m.username:<16} {m.display_name:<10} {state:<8} roles={','.join(m.roles)} "
                   f"windows={','.join(m.windows) or '-'}")


@users.command("disable", help="Disable an account; its open sessions end at once.")
@click.argument("username")
@_db_option
@_domain_errors
def users_disable(username: str, database: str | None) -> None:
    from .services import staff as staff_service

    engine = _engine(database)
    staff_service.set_disabled(engine, username, True, _now())
    _audit(engine, "disable", username)
    click.echo(f"disabled {username}")


@users.command("enable", help="Enable a disabled account; also lifts a lock-out after failed logins.")
@click.argument("username")
@_db_option
@_domain_errors
def users_enable(username: str, database: str | None) -> None:
    from .services import staff as staff_service

    engine = _engine(database)
    staff_service.set_disabled(engine, username, False, _now())
    _audit(engine, "enable", username)
    click.echo(f"enabled {username} (any lock-out lifted)")


@users.command("passwd", help="Set a new password (ends the account's sessions, lifts a lock-out).")
@click.argument("username")
@click.option("--password-stdin", is_flag=True)
@_db_option
@_domain_errors
def users_passwd(username: str, password_stdin: bool, database: str | None) -> None:
    from .services import staff as staff_service

    engine = _engine(database)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else click.prompt(
        "new password", hide_input=True, confirmation_prompt=True)
    staff_service.set_password(engine, username, password, _now())
    _audit(engine, "reset_password", username)
    click.echo(f"password changed for {username}")


@cli.group(help="Device agents' tokens.")
def devices() -> None:
    pass


@devices.command("token", help="Create a token for a station's agent (shown once).")
@click.argument("station")
@_db_option
@_domain_errors
def devices_token(station: str, database: str | None) -> None:
    from .services import staff as staff_service
    from .services.devices import check_station

    engine = _engine(database)
    check_station(station)
    token = staff_service.add_device_token(engine, _now(), station)
    _audit(engine, "add_token", station)
    click.echo(token)


@devices.command("revoke", help="Revoke every token of a station.")
@click.argument("station")
@_db_option
def devices_revoke(station: str, database: str | None) -> None:
    from .services import staff as staff_service

    engine = _engine(database)
    n = staff_service.revoke_device_tokens(engine, _now(), station)
    _audit(engine, "revoke_tokens", station, {"revoked": n})
    click.echo(f"revoked {n} token(s) of {station}")


def _register_modules() -> None:
    from .commands_cases import register as register_cases

    register_cases(cli)
    from .commands_i18n import register as register_i18n

    register_i18n(cli)
    from .commands_voice import register as register_voice

    register_voice(cli)


_register_modules()
