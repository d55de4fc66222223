"""A child process that ends when the process that started it ends, however that one ends (even ``kill -9``).

``onewindow hall`` starts the simulator hall and one agent per station with ``ONEWINDOW_PARENT_PID`` set to its own
pid. A child that sees it calls :func:`follow_parent` first thing: on Linux it asks the kernel for SIGTERM when its
parent dies (``prctl(PR_SET_PDEATHSIG)``), which its normal SIGTERM handling turns into a clean stop; a watcher
thread polling ``getppid()`` does the same where prctl is missing. If the parent is already gone by the time the
child gets here, it stops at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PARENT_ENV = "ONEWINDOW_PARENT_PID"
PR_SET_PDEATHSIG = 1
POLL_SECONDS = 1.0


def _set_pdeathsig(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    return False


def _watch(parent: int, signum: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os.kill(os.getpid(), signum)


def follow_parent(signum: int = signal.SIGTERM) -> int | None:
    """If started by a parent that owns us (``ONEWINDOW_PARENT_PID``), arrange to get ``signum`` when it dies.

    Returns the parent pid followed, or None when the variable is not set (a process started by hand is left alone).
    """
    value = os.environ.get(PARENT_ENV, "")
    if not value.isascii() or not value.isdigit():
        return None
    parent = int(value)
    _set_pdeathsig(signum)
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os.kill(os.getpid(), signum)
        return parent
    threading.Thread(target=_watch, args=(parent, signum), name="parent-watch", daemon=True).start()
    return parent


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) plus the variable that makes a child follow this process."""
    return {**(os.environ if env is None else env), PARENT_ENV: str(os.getpid())}
