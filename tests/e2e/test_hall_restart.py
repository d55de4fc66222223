"""The hall screen survives a server crash: it says "reconnecting" instead of showing a stale screen, and once
the server is back on the same database it catches up by sequence number and shows new calls."""

from __future__ import annotations

import time

import pytest

from .conftest import screenshot, wait_live

pytestmark = pytest.mark.slow


def test_hall_screen_reconnects_after_a_server_restart(own_server, new_page) -> None:  # type: ignore[no-untyped-def]
    own_server.start()
    page = new_page()
    page.goto(own_server.base_url + "/display/hall?voice=off")
    wait_live(page)
    before = own_server.issue("comprehensive")
    own_server.call_next("w01")
    page.wait_for_function("n => document.getElementById('now-number').textContent === n", arg=before["number"])
    assert page.is_hidden("#offline")

    own_server.kill()
    page.wait_for_selector("#offline", state="visible", timeout=10000)
    assert "正在重新连接" in page.inner_text("#offline") and "Reconnecting" in page.inner_text("#offline")
    assert "offline" in page.get_attribute("body", "class")  # the stale content is dimmed, not shown as current
    screenshot(page, "hall-reconnecting")
    time.sleep(1.0)  # a few failed reconnect attempts while the server is down

    own_server.start()
    wait_live(page, timeout_ms=20000)
    page.wait_for_selector("#offline", state="hidden")
    own_server.window("w01", "start")
    after = own_server.issue("comprehensive")
    assert own_server.call_next("w01")["number"] == after["number"]
    page.wait_for_function("n => document.getElementById('now-number').textContent === n", arg=after["number"])
    assert page.locator(f"#recent .call[data-number={before['number']}]").count() == 1
    stats = page.evaluate("window.__hall.feed.stats")
    assert stats["reconnects"] >= 1
    assert stats["snapshots"] == 1  # caught up by seq (subscribe with since), no fresh snapshot needed
    screenshot(page, "hall-after-restart")
    assert page.errors == []
