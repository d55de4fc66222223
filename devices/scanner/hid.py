"""Keyboard-wedge (HID) scanners: the scanner types the code as key presses and ends it with Enter.

A wedge cannot carry Chinese (it can only press keys of a US keyboard), so use serial mode for QR codes with
Chinese content. On Linux the key events are read through ``evdev``, imported only when a wedge is opened;
:class:`KeyAccumulator` (key names -> codes) is pure and needs no evdev.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from collections.abc import Iterator
from typing import Any

from devices.common.scans import ScannedCode

log = logging.getLogger(__name__)

KEY_DOWN, KEY_UP, KEY_HOLD = 1, 0, 2

# US layout: key name -> (plain, shifted).
_KEYMAP: dict[str, tuple[str, str]] = {
    **{f"KEY_{c}": (c.lower(), c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    **{f"KEY_{d}": (d, s) for d, s in zip("1234567890", "!@#$%^&*()", strict=True)},
    **{f"KEY_KP{d}": (d, d) for d in "0123456789"},
    "KEY_MINUS": ("-", "_"),
    "KEY_EQUAL": ("=", "+"),
    "KEY_LEFTBRACE": ("[", "{"),
    "KEY_RIGHTBRACE": ("]", "}"),
    "KEY_SEMICOLON": (";", ":"),
    "KEY_APOSTROPHE": ("'", '"'),
    "KEY_GRAVE": ("`", "~"),
    "KEY_BACKSLASH": ("\\", "|"),
    "KEY_COMMA": (",", "<"),
    "KEY_DOT": (".", ">"),
    "KEY_SLASH": ("/", "?"),
    "KEY_SPACE": (" ", " "),
    "KEY_TAB": ("\t", "\t"),
    "KEY_KPMINUS": ("-", "-"),
    "KEY_KPPLUS": ("+", "+"),
    "KEY_KPASTERISK": ("*", "*"),
    "KEY_KPSLASH": ("/", "/"),
    "KEY_KPDOT": (".", "."),
}
_SHIFTS = {"KEY_LEFTSHIFT", "KEY_RIGHTSHIFT"}
_ENTERS = {"KEY_ENTER", "KEY_KPENTER"}


class HidUnavailable(Exception):
    """The keyboard-wedge reader cannot run here; the message says what to install or fix."""


class KeyAccumulator:
    """Turns key events (name, value) into codes: characters accumulate until Enter."""

    def __init__(self, max_length: int = 4096) -> None:
        self._chars: list[str] = []
        self._shift: set[str] = set()
        self._caps = False
        self.max_length = max_length
        self.ignored = (
            0  # key presses with no character (F-keys, Ctrl...): a sign of a keyboard, not a scanner
        )

    def feed(self, key: str, value: int) -> str | None:
        """One key event; returns the finished code on Enter (never an empty one), else None."""
        if key in _SHIFTS:
            if value == KEY_UP:
                self._shift.discard(key)
            else:
                self._shift.add(key)
            return None
        if value != KEY_DOWN:
            return None  # releases and auto-repeat carry no new character
        if key == "KEY_CAPSLOCK":
            self._caps = not self._caps
            return None
        if key in _ENTERS:
            code, self._chars = "".join(self._chars), []
            return code or None
        if key == "KEY_BACKSPACE":
            if self._chars:
                self._chars.pop()
            return None
        chars = _KEYMAP.get(key)
        if chars is None:
            self.ignored += 1
            return None
        shifted = bool(self._shift)
        if self._caps and key[4:].isalpha() and len(key) == 5:
            shifted = not shifted  # Caps Lock inverts Shift for letters only
        if len(self._chars) < self.max_length:
            self._chars.append(chars[1] if shifted else chars[0])
        return None

    def reset(self) -> None:
        self._chars.clear()
        self._shift.clear()


def _import_evdev() -> Any:
    try:
        import evdev  # optional and Linux-only, so imported only when a wedge is opened
    except ImportError:
        raise HidUnavailable(
            "keyboard-wedge scanners are read through the 'evdev' module, which is not installed: "
            "pip install evdev (Linux only). The agent's user also needs read access to /dev/input/event* "
            "(e.g. membership of the 'input' group)."
        ) from None
    return evdev


def list_input_devices() -> list[tuple[str, str]]:
    """(path, name) of every input device this user can open, to find the scanner's event node."""
    evdev = _import_evdev()
    found = []
    for path in evdev.list_devices():
        try:
            device = evdev.InputDevice(path)
        except OSError:
            continue
        found.append((path, device.name))
        device.close()
    return found


class HidScanner:
    """A wedge scanner's input device, grabbed so its keystrokes do not also land in the focused window."""

    def __init__(self, device: Any, evdev: Any) -> None:
        self._device = device
        self._evdev = evdev
        self._keys = KeyAccumulator()

    @classmethod
    def open(cls, device: str, grab: bool = True) -> HidScanner:
        """``device``: an event node (``/dev/input/event5``) or part of the device's name (``Honeywell``)."""
        evdev = _import_evdev()
        path = device
        if not os.path.exists(device):
            matches = [p for p, name in list_input_devices() if device.lower() in name.lower()]
            if len(matches) != 1:
                names = ", ".join(f"{n} ({p})" for p, n in list_input_devices()) or "none readable"
                raise HidUnavailable(
                    f"{len(matches)} input devices match {device!r}; give an event node or a unique part of a "
                    f"name. Devices: {names}"
                )
            path = matches[0]
        try:
            handle = evdev.InputDevice(path)
            if grab:
                handle.grab()
        except OSError as exc:
            raise HidUnavailable(
                f"cannot open {path}: {exc.strerror} (is the user in the 'input' group?)"
            ) from exc
        return cls(handle, evdev)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._device.ungrab()
        self._device.close()

    def codes(self, stop: threading.Event | None = None) -> Iterator[ScannedCode]:
        """Yield each code typed by the scanner until ``stop`` is set."""
        stop = stop or threading.Event()
        ecodes = self._evdev.ecodes
        while not stop.is_set():
            ready, _, _ = select.select([self._device.fd], [], [], 0.1)
            if not ready:
                continue
            for event in self._device.read():
                if event.type != ecodes.EV_KEY:
                    continue
                name = ecodes.KEY.get(event.code, "")
                if isinstance(name, list | tuple):  # aliased codes come as a list of names
                    name = name[0]
                code = self._keys.feed(name, event.value)
                if code is not None:
                    yield ScannedCode(code, "hid")
