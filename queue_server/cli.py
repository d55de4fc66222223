"""The ``onewindow`` command. gevent must patch the standard library before anything else is imported."""

from __future__ import annotations

import os
import sys


def _wants_gevent(argv: list[str]) -> bool:
    if os.environ.get("ONEWINDOW_ASYNC_MODE") == "gevent":
        return True
    for i, arg in enumerate(argv):
        if arg == "--async-mode" and i + 1 < len(argv) and argv[i + 1] == "gevent":
            return True
        if arg == "--async-mode=gevent":
            return True
    return False


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("serve", "hall") and _wants_gevent(sys.argv):
        from gevent import monkey

        monkey.patch_all()
    from .commands import cli

    cli(prog_name="onewindow")


if __name__ == "__main__":
    main()
