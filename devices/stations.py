"""Which device sits on which URL at each station: loading and validating the devices file (config/devices.toml).

A ``sim://`` URL means "the simulator ``onewindow sim hall`` started for this station and device";
``sim://STATION/KIND`` means another station's simulator (two LED screens on one bus). Both are resolved at open
time through the runtime file ``sim hall`` writes (``sim_runtime_file`` in the devices file).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

KINDS = ("printer", "idcard", "scanner", "camera", "led", "evaluator")
ROLE_DEVICES: dict[str, tuple[str, ...]] = {
    "kiosk": ("printer", "idcard", "scanner", "camera"),
    "window": ("led", "evaluator", "idcard"),  # idcard: the window's reader fills its intake form
    "hall-screen": ("led",),
}
STATION_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
SIM_URL = re.compile(r"sim://(?:(?P<station>[a-z][a-z0-9-]*)/(?P<kind>[a-z]+))?")

_SERIAL_FORMS = "sim://, sim://STATION/KIND, /dev/..., COMn, socket://HOST:PORT, rfc2217://HOST:PORT, loop://, spy://..."
_SERIAL_RE = re.compile(r"(sim://.*|/dev/\S+|COM\d+|(socket|rfc2217)://[^\s:/]+:\d+|loop://.*|spy://\S+)")
_URL_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "printer": (
        re.compile(rf"({_SERIAL_RE.pattern}|tcp://[^\s:/]+:\d+|usb://[0-9a-fA-F]{{4}}:[0-9a-fA-F]{{4}}|file:///\S+)"),
        _SERIAL_FORMS + ", tcp://HOST:9100, usb://VID:PID, file:///PATH",
    ),
    "camera": (
        re.compile(r"(sim://.*|camera://\d+|/dev/video\d+|file:///\S+)"),
        "sim://, camera://INDEX, /dev/videoN, file:///PATH (an image or video)",
    ),
}
for _kind in ("idcard", "scanner", "led", "evaluator"):
    _URL_RULES[_kind] = (_SERIAL_RE, _SERIAL_FORMS)

DEFAULT_RUNTIME_FILE = "sim-hall.json"


class DevicesConfigError(ValueError):
    """The devices file is missing, unreadable or wrong; the message names the file, station, device and fix."""


class _Device(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str

    @property
    def is_sim(self) -> bool:
        return self.url.startswith("sim://")


class PrinterDevice(_Device):
    kind: Literal["printer"] = "printer"
    qr: Literal["native", "raster"] = "raster"
    width_mm: Literal[58, 80] = 80


class IdCardDevice(_Device):
    kind: Literal["idcard"] = "idcard"
    baudrate: Literal[9600, 19200, 38400, 57600, 115200] = 115200


class ScannerDevice(_Device):
    kind: Literal["scanner"] = "scanner"
    baudrate: Literal[9600, 19200, 38400, 57600, 115200] = 115200


class CameraDevice(_Device):
    kind: Literal["camera"] = "camera"


class LedDevice(_Device):
    kind: Literal["led"] = "led"
    address: Annotated[int, Field(ge=1, le=254)]
    baudrate: Literal[9600, 19200, 38400, 57600, 115200] = 9600
    rows: Annotated[int, Field(ge=1, le=16)] = 4
    cols: Annotated[int, Field(ge=1, le=255)] = 24


class EvaluatorDevice(_Device):
    kind: Literal["evaluator"] = "evaluator"
    baudrate: Literal[9600, 19200, 38400, 57600, 115200] = 9600
    timeout_s: Annotated[int, Field(ge=1, le=600)] = 120


DEVICE_MODELS: dict[str, type[_Device]] = {
    "printer": PrinterDevice,
    "idcard": IdCardDevice,
    "scanner": ScannerDevice,
    "camera": CameraDevice,
    "led": LedDevice,
    "evaluator": EvaluatorDevice,
}


class Station(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Literal["kiosk", "window", "hall-screen"]
    description: str = ""
    # the hall window (config/hall.yaml) a window station serves; its agent joins that window's room
    window_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")] | None = None
    printer: PrinterDevice | None = None
    idcard: IdCardDevice | None = None
    scanner: ScannerDevice | None = None
    camera: CameraDevice | None = None
    led: LedDevice | None = None
    evaluator: EvaluatorDevice | None = None

    @model_validator(mode="after")
    def _devices_fit_role(self) -> Station:
        if self.window_id is not None and self.role != "window":
            raise ValueError(f"window_id is for window stations; this one is a {self.role}")
        allowed = ROLE_DEVICES[self.role]
        for kind in KINDS:
            device = getattr(self, kind)
            if device is None:
                continue
            if kind not in allowed:
                raise ValueError(f"a {self.role} station has no {kind}; a {self.role} may have: {', '.join(allowed)}")
            pattern, forms = _URL_RULES[kind]
            if not pattern.fullmatch(device.url):
                raise ValueError(f"{kind} url {device.url!r} is not one a {kind} driver opens; allowed: {forms}")
            if device.is_sim and not SIM_URL.fullmatch(device.url):
                raise ValueError(f"{kind} url {device.url!r}: write sim:// or sim://STATION/KIND")
        return self

    def devices(self) -> dict[str, _Device]:
        return {kind: getattr(self, kind) for kind in KINDS if getattr(self, kind) is not None}


class DevicesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sim_runtime_file: str = DEFAULT_RUNTIME_FILE
    stations: dict[str, Station]

    @field_validator("stations")
    @classmethod
    def _names(cls, stations: dict[str, Station]) -> dict[str, Station]:
        for name in stations:
            if not STATION_NAME.fullmatch(name):
                raise ValueError(f"station name {name!r} must be lower-case letters, digits and dashes, e.g. window-3")
        return stations

    @model_validator(mode="after")
    def _sim_references(self) -> DevicesFile:
        for name, station in self.stations.items():
            for kind, device in station.devices().items():
                match = SIM_URL.fullmatch(device.url)
                if not match or not match.group("station"):
                    continue
                target, target_kind = match.group("station"), match.group("kind")
                if target_kind != kind:
                    raise ValueError(f"station {name}, {kind}: {device.url} names a {target_kind}; it must be a {kind}")
                other = self.stations.get(target)
                other_device = other.devices().get(kind) if other else None
                if other_device is None or other_device.url != "sim://":
                    raise ValueError(
                        f"station {name}, {kind}: {device.url} must name a station whose {kind} url is plain sim://"
                    )
        return self


@dataclass(frozen=True)
class SimDevice:
    """One device the simulator hall runs: the station/kind that owns it, and who else shares it."""

    station: str
    kind: str
    device: _Device
    sharers: tuple[tuple[str, _Device], ...] = ()


@dataclass(frozen=True)
class ResolvedDevice:
    """A device ready to open: its settings, and the concrete URL (a sim:// already looked up)."""

    station: str
    kind: str
    url: str
    settings: _Device
    control_url: str | None = None


class DevicesConfig:
    """A validated devices file; :meth:`resolve` gives the URL a driver opens."""

    def __init__(self, data: DevicesFile, path: Path) -> None:
        self.data = data
        self.path = path

    @property
    def stations(self) -> dict[str, Station]:
        return self.data.stations

    @property
    def runtime_file(self) -> Path:
        return (self.path.parent / self.data.sim_runtime_file).resolve()

    def device(self, station: str, kind: str) -> _Device:
        if station not in self.stations:
            raise DevicesConfigError(f"{self.path}: no station {station!r}; stations: {', '.join(self.stations)}")
        device = self.stations[station].devices().get(kind)
        if device is None:
            have = ", ".join(self.stations[station].devices()) or "none"
            raise DevicesConfigError(f"{self.path}: station {station} has no {kind}; it has: {have}")
        return device

    def sim_key(self, station: str, kind: str) -> str:
        """The ``station/kind`` whose simulator serves this device (itself, or the one its sim:// URL names)."""
        match = SIM_URL.fullmatch(self.device(station, kind).url)
        if match is None:
            raise DevicesConfigError(f"{self.path}: station {station}, {kind} is not a sim:// device")
        if match.group("station"):
            return f"{match.group('station')}/{kind}"
        return f"{station}/{kind}"

    def simulated(self) -> list[SimDevice]:
        """The simulators a hall needs: one per plain sim:// device, with the devices that share it."""
        owners: dict[str, list[tuple[str, _Device]]] = {}
        for name, station in self.stations.items():
            for kind, device in station.devices().items():
                if device.is_sim:
                    owners.setdefault(self.sim_key(name, kind), []).append((name, device))
        out = []
        for key, members in owners.items():
            owner, kind = key.split("/")
            device = self.device(owner, kind)
            sharers = tuple((n, d) for n, d in members if n != owner)
            if kind == "led":
                addresses = [d.address for _, d in members if isinstance(d, LedDevice)]
                if len(set(addresses)) != len(addresses):
                    raise DevicesConfigError(
                        f"{self.path}: the LED screens sharing {key}'s line need different addresses, got {addresses}"
                    )
            out.append(SimDevice(owner, kind, device, sharers))
        return out

    def resolve(self, station: str, kind: str, runtime_file: Path | None = None) -> ResolvedDevice:
        """The device's settings and the URL to open, looking a sim:// up in the running hall's runtime file."""
        device = self.device(station, kind)
        if not device.is_sim:
            return ResolvedDevice(station, kind, device.url, device)
        key = self.sim_key(station, kind)
        try:
            runtime = read_runtime(runtime_file or self.runtime_file)
        except DevicesConfigError as exc:
            raise DevicesConfigError(f"station {station}, {kind} ({device.url}): {exc}") from None
        entry = runtime.get("devices", {}).get(key)
        if entry is None:
            raise DevicesConfigError(
                f"station {station}, {kind}: {device.url} needs the simulator for {key}, but the running "
                f"`onewindow sim hall` has none; restart it with this devices file ({self.path})"
            )
        return ResolvedDevice(station, kind, entry["url"], device, entry.get("control"))


def read_runtime(path: Path) -> dict[str, Any]:
    """The runtime file of a running ``sim hall``; a clear error if it is missing or its process is gone."""
    try:
        runtime = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DevicesConfigError(
            f"sim:// devices need a running `onewindow sim hall`; its runtime file {path} does not exist"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise DevicesConfigError(f"cannot read the sim hall runtime file {path}: {exc}") from exc
    pid = runtime.get("pid")
    if not isinstance(pid, int) or not _alive(pid):
        raise DevicesConfigError(f"{path} is stale: the `onewindow sim hall` that wrote it (pid {pid}) has stopped")
    return runtime


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_runtime(path: Path, config_path: Path, devices: dict[str, dict[str, str]]) -> None:
    """Written by ``sim hall`` once every simulator is up; replaced atomically so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"pid": os.getpid(), "config": str(config_path), "devices": devices}
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _describe(error: ErrorDetails) -> str:
    loc = [str(part) for part in error["loc"]]
    where: list[str] = []
    if loc[:1] == ["stations"] and len(loc) > 1:
        where.append(f"station {loc[1]}")
        rest = loc[2:]
        if rest and rest[0] in KINDS:
            where.append(f"device {rest[0]}")
            rest = rest[1:]
        # pydantic adds the branch it tried for an optional model ("PrinterDevice"); it says nothing to a reader
        rest = [part for part in rest if not part[:1].isupper()]
        if rest:
            where.append(".".join(rest))
    elif loc:
        where.append(".".join(loc))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        field = loc[-1]
        if len(loc) >= 4 and loc[2] in KINDS:
            allowed = [f for f in DEVICE_MODELS[loc[2]].model_fields if f != "kind"]
            message = f"unknown setting {field!r}; a {loc[2]} takes: {', '.join(allowed)}"
        elif len(loc) == 3 and loc[0] == "stations":
            message = f"unknown key {field!r}; a station takes: role, description, window_id, {', '.join(KINDS)}"
        else:
            message = f"unknown key {field!r}; the file takes: sim_runtime_file, stations"
    elif "input" in error and error["type"] not in ("missing", "model_type"):
        message += f" (got {error['input']!r})"
    return (", ".join(where) + ": " if where else "") + message


def parse_devices(data: dict[str, Any], path: Path) -> DevicesConfig:
    """Validate already-parsed TOML data; ``path`` is named in errors and anchors relative paths."""
    try:
        return DevicesConfig(DevicesFile.model_validate(data), path)
    except ValidationError as exc:
        lines = [f"{path}: {_describe(e)}" for e in exc.errors(include_url=False)]
        raise DevicesConfigError("\n".join(lines)) from None


def load_devices(path: str | Path | None = None) -> DevicesConfig:
    """Load and validate a devices file (default: the packaged config/devices.toml)."""
    if path is None:
        from config import (
            DEFAULT_DEVICES,  # the config package is data only; importing it pulls in nothing else
        )

        path = DEFAULT_DEVICES
    path = Path(path).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DevicesConfigError(f"cannot read the devices file {path}: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DevicesConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_devices(data, path)
