"""``onewindow hall``: the server, every simulated device and an agent per station, on one laptop.

First run on a fresh database also creates a demo supervisor and one window clerk per window station, and device
tokens for the agents; their credentials are printed and kept in var/ (demo only: a real hall adds its staff
with ``onewindow users add``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from devices.common.lifeline import child_env

from .settings import Settings

SIM_READY_TIMEOUT = 30.0
HALL_FILE = "hall.json"  # in var/: this hall's pid and its children's, for the next start to check


def _var_dir(settings: Settings) -> Path:
    return Path(settings.database.removeprefix("sqlite:///")).resolve().parent


def _demo_accounts(settings: Settings, stations: dict[str, str | None]) -> dict[str, str]:
    """Create the demo staff and device tokens once; return station -> token (kept in var/, mode 600)."""
    from .clock import SystemClock
    from .hall_config import load_hall
    from .services import staff as staff_service
    from .store.db import make_engine, migrate

    var = _var_dir(settings)
    creds_file = var / "demo-credentials.json"
    if creds_file.exists():
        return json.loads(creds_file.read_text())["tokens"]
    cfg = load_hall(settings.config_path)
    engine = make_engine(settings.database)
    migrate(engine)
    now = SystemClock().now()
    password = secrets.token_urlsafe(9)
    created = []
    if not staff_service.list_users(engine):
        staff_service.add_user(engine, now, "demo", "值班长", password, ["supervisor", "technician"])
        created.append("demo")
        for w in cfg.windows[:10]:
            name = f"clerk{w.number}" if w.zone != "judicial" else f"jclerk{w.number}"
            if name in created:
                continue
            staff_service.add_user(engine, now, name, f"{w.number}号窗口", password, ["window_staff"], [w.id],
                                   post="综合受理岗")
            created.append(name)
    tokens = {station: staff_service.add_device_token(engine, now, station) for station in stations}
    engine.dispose()
    var.mkdir(parents=True, exist_ok=True)
    creds_file.write_text(json.dumps({"password": password, "users": created, "tokens": tokens}, indent=1))
    creds_file.chmod(0o600)
    return tokens


def _wait_for_sims(runtime: Path, since: float) -> bool:
    deadline = time.monotonic() + SIM_READY_TIMEOUT
    while time.monotonic() < deadline:
        if runtime.exists() and runtime.stat().st_mtime >= since:
            return True
        time.sleep(0.2)
    return False


def _command_of(pid: int) -> str | None:
    """The command line of a live process that is one of ours, or None (gone, or the pid was reused)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, someone else's
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "(command unknown)"
    command = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    return command if any(word in command for word in ("onewindow", "queue_server", "devices.")) else None


def _pids_in(path: Path) -> list[int]:
    """The pids a runtime file (``{"pid": ..., "children": [...]}``) or an agent lock file (``PID\\n``) names."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    if path.suffix == ".lock":
        return [int(text.strip())] if text.strip().isdigit() else []
    try:
        data = json.loads(text)
    except ValueError:
        return []
    pids = [data.get("pid"), *(child.get("pid") for child in data.get("children", []) if isinstance(child, dict))]
    return [pid for pid in pids if isinstance(pid, int) and pid > 0]


def check_leftovers(var: Path, runtime_file: Path | None) -> list[tuple[int, str]]:
    """Processes a previous hall left running, as (pid, command); removes its runtime files when all are gone."""
    files = [var / HALL_FILE, *([runtime_file] if runtime_file else []), *sorted(var.glob("agent-*.lock"))]
    alive: dict[int, str] = {}
    for path in files:
        for pid in _pids_in(path):
            command = None if pid == os.getpid() else _command_of(pid)
            if command is not None:
                alive[pid] = command
    if not alive:
        for path in files[:2]:
            if path.exists() and _pids_in(path):
                with contextlib.suppress(OSError):
                    path.unlink()
                    click.echo(f"removed the stale {path} (its processes are gone)")
    return sorted(alive.items())


def _refuse_leftovers(leftovers: list[tuple[int, str]]) -> None:
    click.echo("onewindow hall: a previous hall's processes are still running:", err=True)
    for pid, command in leftovers:
        click.echo(f"  pid {pid}: {command}", err=True)
    pids = " ".join(str(pid) for pid, _ in leftovers)
    click.echo(f"They would keep driving the old simulators. Stop them with:  kill {pids}\n"
               "(or Ctrl-C in the terminal that started them), then run onewindow hall again.", err=True)
    sys.exit(1)


def _command_line(args: Any) -> str:
    """Popen's args as one line: we always start children with a list, but Popen also takes a string."""
    return args if isinstance(args, str) else " ".join(str(a) for a in args)


def _write_hall_file(var: Path, children: list[subprocess.Popen]) -> None:
    payload = {"pid": os.getpid(), "children": [
        {"pid": child.pid, "command": _command_line(child.args)}
        for child in children]}
    tmp = var / (HALL_FILE + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    os.replace(tmp, var / HALL_FILE)


def _stop_children(children: list[subprocess.Popen]) -> None:
    for child in children:
        with contextlib.suppress(OSError):
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=5)


def run_hall(settings: Settings, host: str, port: int, serve: Callable[[], None],
             devices_path: str | None = None) -> None:
    """Start the simulators and agents as children that end with this process (SIGINT, SIGTERM, even SIGKILL:
    they follow their parent, see devices.common.lifeline), then serve in this process."""
    base = f"http://{host}:{port}"
    children: list[subprocess.Popen] = []
    env = child_env({**os.environ, "PYTHONUNBUFFERED": "1"})
    stations: dict[str, str | None] = {}
    devices_cfg = None
    try:
        from devices.stations import load_devices

        devices_cfg = load_devices(devices_path)
        stations = {name: getattr(st, "window_id", None) for name, st in devices_cfg.stations.items()}
    except Exception as exc:  # the hall still runs without devices; say why
        click.echo(f"devices file not loaded, no simulated devices: {exc}", err=True)
    var = _var_dir(settings)
    leftovers = check_leftovers(var, devices_cfg.runtime_file if devices_cfg else None)
    if leftovers:
        _refuse_leftovers(leftovers)
    # SIGTERM (a service manager, `kill`) stops the hall the way Ctrl-C does, so the children are stopped and
    # var/hall.json removed; SIGKILL cannot be caught, and there the children stop by themselves.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    tokens = _demo_accounts(settings, stations)
    log_dir = var / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    if stations and devices_cfg is not None:
        started = time.time()
        with open(log_dir / "sim-hall.log", "w") as log:
            children.append(subprocess.Popen([sys.executable, "-m", "queue_server.cli", "sim", "hall",
                                              *(["--config", devices_path] if devices_path else [])],
                                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             env=env))
        runtime = devices_cfg.runtime_file
        if not _wait_for_sims(runtime, started - 1):
            click.echo("device simulators did not come up in time; see var/logs/sim-hall.log", err=True)
        if Path(__file__).resolve().parent.parent.joinpath("devices", "agent", "cli.py").exists():
            for station in stations:
                with open(log_dir / f"agent-{station}.log", "w") as log:
                    children.append(subprocess.Popen(
                        [sys.executable, "-m", "queue_server.cli", "agent", "--station", station, "--server", base,
                         "--state-dir", str(var), *(["--config", devices_path] if devices_path else [])],
                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        env={**env, "ONEWINDOW_DEVICE_TOKEN": tokens.get(station, "")}))
    _write_hall_file(var, children)
    creds = json.loads((var / "demo-credentials.json").read_text())
    click.echo("OneWindow hall is starting. Open:")
    click.echo(f"  home            {base}/")
    # The fragment enrols the browser as kiosk-1 (never sent to the server in the URL; the page trades it for a
    # session cookie); a real kiosk PC gets its own token from `onewindow devices token kiosk-1`.
    click.echo(f"  kiosk           {base}/kiosk/?station=kiosk-1#token={tokens.get('kiosk-1', '')}")
    click.echo(f"  hall screen     {base}/display/hall")
    click.echo(f"  window screen   {base}/display/window/w01")
    click.echo(f"  window panel    {base}/staff/panel   (demo logins: {', '.join(creds['users'][:3])}, … "
               f"password {creds['password']})")
    click.echo(f"  API             {base}/api/v1/openapi.json")
    click.echo(f"database {settings.database}; logs in {log_dir}; Ctrl-C stops everything")
    if settings.always_open:
        click.echo("演示模式 / demo: tickets are issued at any hour (--always-open); the kiosk and the hall screen "
                   "show a 演示 label. Real opening hours: make hall HALL_ARGS=")
    else:
        click.echo("real opening hours: outside them the kiosk and the hall screen show when tickets start again "
                   "(make hall, without HALL_ARGS=, runs the demo at any hour)")
    sys.stdout.flush()
    try:
        serve()
    except KeyboardInterrupt:
        pass
    finally:
        _stop_children(children)
        with contextlib.suppress(OSError):
            (var / HALL_FILE).unlink()
