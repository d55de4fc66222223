"""Outside ticket hours (00:10 hall time) the kiosk's home and the hall screen say the hall is closed and when
tickets start; a demo server (--always-open) works at any hour and labels itself 演示/demo."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.conftest import HallServer


@pytest.fixture
def closed_server(tmp_path) -> Iterator[HallServer]:  # type: ignore[no-untyped-def]
    server = HallServer(tmp_path, extra_args=("--clock", "2026-12-07T00:10"), always_open=False).start()
    yield server
    server.stop()


def test_kiosk_and_hall_screen_say_when_tickets_start(closed_server: HallServer, new_page: Any) -> None:
    base = closed_server.base_url
    hours = requests.get(base + "/display/hours", timeout=5).json()
    assert hours["open"] is False and hours["demo"] is False and hours["opens"]["zh"] == "今天 09:00"

    kiosk = new_page()
    kiosk.goto(base + "/kiosk/?station=kiosk-1")
    kiosk.wait_for_selector("#closed-panel")
    text = kiosk.inner_text("#closed-panel")
    assert "大厅现在不办公" in text and "今天 09:00 开始取号" in text and "09:00–12:00" in text
    assert kiosk.locator(".tiles button, .tile").count() == 0  # no menu that ends in "closed"
    kiosk.click("[data-lang=bo]")
    kiosk.wait_for_function("() => document.querySelector('#closed-panel').innerText.includes('དེ་རིང་ 09:00')")

    hall = new_page()
    hall.goto(base + "/display/hall?voice=off")
    hall.wait_for_selector("#closed:not([hidden])")
    assert "今天 09:00" in hall.inner_text("#closed .closed-zh")
    assert "དེ་རིང་ 09:00" in hall.inner_text("#closed .closed-bo")
    assert hall.is_hidden("#demo-label")
    assert kiosk.errors == [] and hall.errors == []


def test_a_demo_server_is_open_at_any_hour_and_says_it_is_a_demo(hall_server: HallServer, new_page: Any) -> None:
    kiosk = new_page()
    kiosk.goto(hall_server.base_url + "/kiosk/?station=kiosk-1")
    kiosk.wait_for_selector("#demo-ribbon")
    assert "演示" in kiosk.inner_text("#demo-ribbon") and kiosk.locator("#closed-panel").count() == 0
    hall = new_page()
    hall.goto(hall_server.base_url + "/display/hall?voice=off")
    hall.wait_for_selector("#demo-label:not([hidden])")
    assert hall.is_hidden("#closed")
