"""The devices file: the shipped config loads, mistakes are named precisely, sim:// resolves through sim hall's
runtime file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from devices.stations import DevicesConfigError, load_devices, parse_devices, read_runtime, write_runtime


def test_the_shipped_devices_file_has_every_station_of_the_hall() -> None:
    config = load_devices()
    assert set(config.stations) == {"kiosk-1", "kiosk-2", "hall-screen-1", *(f"window-{n}" for n in range(1, 11))}
    for n in (1, 2):
        assert set(config.stations[f"kiosk-{n}"].devices()) == {"printer", "idcard", "scanner", "camera"}
    addresses = [config.device(f"window-{n}", "led").address for n in range(1, 11)]
    assert addresses == list(range(1, 11))
    assert all(config.device(f"window-{n}", "evaluator").is_sim for n in range(1, 11))
    assert config.runtime_file == (Path(__file__).resolve().parents[3] / "var" / "sim-hall.json")
    assert len(config.simulated()) == 2 * 4 + 10 * 2 + 1


def load_text(tmp_path: Path, text: str):
    path = tmp_path / "devices.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_devices(path)


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[stations.window-3]\nrole = "window"\nled = { url = "sim://", address = 300 }\n',
         ["station window-3, device led, address", "less than or equal to 254", "(got 300)"]),
        ('[stations.window-3]\nrole = "window"\nprinter = { url = "sim://" }\n',
         ["station window-3", "a window station has no printer", "may have: led, evaluator"]),
        ('[stations.window-3]\nrole = "window"\nled = { url = "sim://", adress = 3 }\n',
         ["station window-3, device led", "unknown setting 'adress'", "takes: url, address, baudrate, rows, cols"]),
        ('[stations.window-3]\nrole = "window"\nevaluator = { url = "http://pad" }\n',
         ["evaluator url 'http://pad'", "allowed: sim://", "/dev/..."]),
        ('[stations.window-3]\nrole = "counter"\n',
         ["station window-3, role", "'kiosk', 'window' or 'hall-screen'", "(got 'counter')"]),
        ('[stations.Window_3]\nrole = "window"\n', ["station name 'Window_3'", "e.g. window-3"]),
        ('[stations.window-3]\nrole = "window"\nled = { address = 3 }\n', ["station window-3, device led, url", "Field required"]),
        ('[stations.window-3]\nrole = "window"\ncolour = "red"\n', ["unknown key 'colour'", "a station takes: role"]),
        ('[stations.window-3]\nrole = "window"\nled = { url = "sim://window-9/led", address = 3 }\n',
         ["sim://window-9/led must name a station whose led url is plain sim://"]),
        ('[stations.kiosk-1]\nrole = "kiosk"\nidcard = { url = "sim://", baudrate = 1200 }\n',
         ["device idcard, baudrate", "(got 1200)"]),
        ('stations = 3\n', ["stations"]),
    ],
)
def test_mistakes_name_the_file_station_device_and_what_is_allowed(
    tmp_path: Path, toml: str, expected: list[str]
) -> None:
    with pytest.raises(DevicesConfigError) as caught:
        load_text(tmp_path, toml)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "devices.toml"))
    for part in expected:
        assert part in message, message


def test_bad_toml_and_a_missing_file_are_reported(tmp_path: Path) -> None:
    with pytest.raises(DevicesConfigError, match="not valid TOML"):
        load_text(tmp_path, "[stations\n")
    with pytest.raises(DevicesConfigError, match="cannot read the devices file"):
        load_devices(tmp_path / "nope.toml")


def test_every_url_form_the_drivers_open_is_accepted(tmp_path: Path) -> None:
    config = load_text(
        tmp_path,
        """
        [stations.kiosk-1]
        role = "kiosk"
        printer = { url = "tcp://192.0.2.10:9100" }
        idcard = { url = "/dev/ttyUSB0" }
        scanner = { url = "socket://127.0.0.1:7001" }
        camera = { url = "camera://0" }
        [stations.kiosk-2]
        role = "kiosk"
        printer = { url = "usb://0416:5011" }
        camera = { url = "file:///srv/qr.mp4" }
        """,
    )
    assert config.resolve("kiosk-1", "printer").url == "tcp://192.0.2.10:9100"
    with pytest.raises(DevicesConfigError, match="kiosk-2 has no idcard; it has: printer, camera"):
        config.device("kiosk-2", "idcard")
    with pytest.raises(DevicesConfigError, match="no station 'kiosk-9'"):
        config.device("kiosk-9", "printer")


SHARED_BUS = """
sim_runtime_file = "run/sim-hall.json"
[stations.window-1]
role = "window"
led = { url = "sim://", address = 1 }
evaluator = { url = "sim://" }
[stations.window-2]
role = "window"
led = { url = "sim://window-1/led", address = 2 }
"""


def test_sim_urls_resolve_through_the_runtime_file_of_a_running_hall(tmp_path: Path) -> None:
    config = load_text(tmp_path, SHARED_BUS)
    assert config.runtime_file == tmp_path / "run" / "sim-hall.json"
    [bus, pad] = config.simulated()
    assert (bus.station, bus.kind, [s for s, _ in bus.sharers]) == ("window-1", "led", ["window-2"])
    assert (pad.station, pad.kind, pad.sharers) == ("window-1", "evaluator", ())

    with pytest.raises(DevicesConfigError, match=r"station window-2, led \(sim://window-1/led\): sim:// devices need a running `onewindow sim hall`; its runtime file .* does not exist"):
        config.resolve("window-2", "led")

    write_runtime(config.runtime_file, config.path, {"window-1/led": {"url": "/dev/pts/77", "control": "tcp://127.0.0.1:9"}})
    resolved = config.resolve("window-2", "led")
    assert (resolved.url, resolved.control_url, resolved.settings.address) == ("/dev/pts/77", "tcp://127.0.0.1:9", 2)
    with pytest.raises(DevicesConfigError, match="has none; restart it"):
        config.resolve("window-1", "evaluator")


def test_a_runtime_file_left_by_a_stopped_hall_is_called_stale(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    path = tmp_path / "sim-hall.json"
    path.write_text(json.dumps({"pid": int(dead.stdout), "devices": {}}))
    with pytest.raises(DevicesConfigError, match=r"is stale: .* \(pid \d+\) has stopped"):
        read_runtime(path)
    path.write_text("{not json")
    with pytest.raises(DevicesConfigError, match="cannot read the sim hall runtime file"):
        read_runtime(path)
    path.write_text(json.dumps({"pid": os.getpid(), "devices": {}}))
    assert read_runtime(path)["pid"] == os.getpid()


def test_leds_sharing_a_bus_need_different_addresses(tmp_path: Path) -> None:
    config = load_text(tmp_path, SHARED_BUS.replace("address = 2", "address = 1"))
    with pytest.raises(DevicesConfigError, match=r"need different addresses, got \[1, 1\]"):
        config.simulated()


def test_a_sim_reference_to_another_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DevicesConfigError, match="names a evaluator; it must be a led"):
        parse_devices(
            {"stations": {"window-1": {"role": "window", "led": {"url": "sim://window-2/evaluator", "address": 1}}}},
            tmp_path / "x.toml",
        )
