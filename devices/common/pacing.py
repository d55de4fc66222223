"""Pacing a simulator's output at a serial line's real speed, so timing on a pty matches the wire."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

BITS_PER_BYTE_8N1 = 10  # start bit, 8 data bits, stop bit


def wire_seconds(n_bytes: int, baud: int | None, bits_per_byte: int = BITS_PER_BYTE_8N1) -> float:
    """How long ``n_bytes`` take on a line at ``baud``; 0 when ``baud`` is 0 or None (unpaced)."""
    if not baud:
        return 0.0
    return n_bytes * bits_per_byte / baud


def paced_write(
    write: Callable[[bytes], None],
    data: bytes,
    baud: int | None,
    cancel: threading.Event | None = None,
) -> bool:
    """Write ``data`` no faster than a UART at ``baud`` would deliver it.

    Each chunk is handed over once its last bit would have arrived, as a real UART delivers a byte only
    after its stop bit. Scheduling is against one start time, so sleep jitter does not accumulate.
    Returns False if ``cancel`` was set before the end (the rest is not written).
    """
    if not baud:
        write(data)
        return True
    # About 2 ms of line time per chunk: fine-grained enough for timing, coarse enough for sleep().
    chunk = max(1, baud // (BITS_PER_BYTE_8N1 * 500))
    start = time.monotonic()
    sent = 0
    while sent < len(data):
        piece = data[sent : sent + chunk]
        due = start + wire_seconds(sent + len(piece), baud)
        delay = due - time.monotonic()
        if delay > 0:
            if cancel is not None:
                if cancel.wait(delay):
                    return False
            else:
                time.sleep(delay)
        elif cancel is not None and cancel.is_set():
            return False
        write(piece)
        sent += len(piece)
    return True
