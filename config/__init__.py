"""The hall as data: the default Hezuo configuration, device stations, calendar overlays and voice clips."""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_HALL = CONFIG_DIR / "hall.yaml"
DEFAULT_DEVICES = CONFIG_DIR / "devices.toml"
