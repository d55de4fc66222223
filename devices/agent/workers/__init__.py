"""Device workers, one per kind; :func:`worker_class` imports a kind's worker (and so its driver) only when used."""

from __future__ import annotations

import importlib

from devices.agent.workers.base import Command, DeviceWorker, Health

__all__ = ["Command", "DeviceWorker", "Health", "WorkerUnavailable", "worker_class"]

_MODULES = {
    "printer": ("devices.agent.workers.printer", "PrinterWorker"),
    "idcard": ("devices.agent.workers.idcard", "IdCardWorker"),
    "scanner": ("devices.agent.workers.scanner", "ScannerWorker"),
    "led": ("devices.agent.workers.led", "LedWorker"),
    "evaluator": ("devices.agent.workers.evaluator", "EvaluatorWorker"),
    "camera": ("devices.agent.workers.camera", "CameraWorker"),
}


class WorkerUnavailable(Exception):
    """This installation cannot drive the kind; the message says why."""


def worker_class(kind: str) -> type[DeviceWorker]:
    if kind not in _MODULES:
        raise WorkerUnavailable(f"this agent has no driver for the {kind} (devices/{kind}/driver.py is not usable yet)")
    module_name, class_name = _MODULES[kind]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # e.g. OpenCV or zbar missing on this PC: the kind is reported "unknown"
        raise WorkerUnavailable(f"the {kind} driver cannot be loaded: {exc}") from None
    return getattr(module, class_name)
