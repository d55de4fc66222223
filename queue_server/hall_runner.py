"""``onewindow hall``: the server plus every simulated device, on one laptop, with the URLs printed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import click

from .settings import Settings


def run_hall(settings: Settings, host: str, port: int, serve: Callable[[], None]) -> None:
    base = f"http://{host}:{port}"
    sims = None
    try:
        sims = subprocess.Popen([sys.executable, "-m", "queue_server.cli", "sim", "hall"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as exc:  # the hall still runs without simulators; say so
        click.echo(f"device simulators not started: {exc}", err=True)
    click.echo("OneWindow hall is starting. Open:")
    click.echo(f"  home        {base}/")
    click.echo(f"  API         {base}/api/v1/openapi.json")
    click.echo(f"  snapshot    {base}/api/v1/snapshot")
    click.echo(f"database: {settings.database}   (Ctrl-C stops everything)")
    sys.stdout.flush()
    try:
        serve()
    finally:
        if sims is not None:
            sims.terminate()
