"""The life of a simulator that serves its line from one background thread: start, close, ``with``."""

from __future__ import annotations

import threading
from typing import Self


class ThreadedSimulator:
    """Subclasses set ``_thread`` and ``_stop`` and say in ``_release`` what to close once the thread is done."""

    _thread: threading.Thread
    _stop: threading.Event

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._release()

    def _wake(self) -> None:
        """Unblock a thread that waits on something other than ``_stop`` (default: nothing to do)."""

    def _release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
