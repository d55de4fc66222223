"""The ``onewindow`` command. gevent must patch the standard library before anything else is imported."""

from __future__ import annotations

import os
import sys


def _wants_gevent(argv: list[str]) -> bool:
    """The async mode ``serve``/``hall`` will run: the --async-mode given, else the default (gevent)."""
    from .settings import DEFAULT_ASYNC_MODE  # a light module: nothing imported there needs patching

    mode = os.environ.get("ONEWINDOW_ASYNC_MODE", DEFAULT_ASYNC_MODE)
    for i, arg in enumerate(argv):
        if arg == "--async-mode" and i + 1 < len(argv):
            mode = argv[i + 1]
        elif arg.startswith("--async-mode="):
            mode = arg.split("=", 1)[1]
    return mode == "gevent"


def _without_gevent(argv: list[str]) -> list[str]:
    """gevent is a core dependency; should an install lack it anyway, serve in threading mode and say so once."""
    print("warning: gevent is not installed (pip install gevent); serving in threading mode instead",
          file=sys.stderr)
    os.environ["ONEWINDOW_ASYNC_MODE"] = "threading"
    out = [a for a in argv if not a.startswith("--async-mode=")]
    while "--async-mode" in out:
        i = out.index("--async-mode")
        del out[i:i + 2]
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("serve", "hall") and _wants_gevent(sys.argv):
        try:
            from gevent import monkey
        except ImportError:
            sys.argv = _without_gevent(sys.argv)
        else:
            monkey.patch_all()
    from .commands import cli

    cli(prog_name="onewindow")


if __name__ == "__main__":
    main()
