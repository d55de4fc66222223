"""The public screens in Chromium against a live server: hall screen with voice, gap resync, window-top screen,
phone tracker. (Server restarts: test_hall_restart.py.)"""

from __future__ import annotations

import pytest
import requests

from display.voice import clip_sequence

from .conftest import PHONE_VIEWPORT, screenshot, wait_live

pytestmark = pytest.mark.slow


def now_number_is(page, number: str, timeout_ms: int = 10000) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("n => document.getElementById('now-number').textContent === n", arg=number,
                           timeout=timeout_ms)


def test_hall_shows_calls_and_announces_each_twice_without_overlap(hall_server, new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    clip_requests: list[str] = []
    page.on("request", lambda r: "/display/voice/" in r.url and clip_requests.append(r.url.split("/display/voice/")[1]))
    page.goto(hall_server.base_url + "/display/hall")
    wait_live(page)

    a = hall_server.issue("comprehensive")
    e = hall_server.issue("tax")
    called = hall_server.call_next("w01")
    assert called["number"] == a["number"]
    now_number_is(page, a["number"])
    assert page.inner_text("#now-window") == "请到 1 号窗口办理"
    assert page.inner_text("#now-window-bo") == f"ཨང་ {page.inner_text('#now-number').strip()} སྒེའུ་ཁུང་ཨང་ 1 ལ་ཕེབས་རོགས།"
    assert "flash" in page.get_attribute("#now", "class")  # highlighted

    hall_server.call_next("w16")  # a second call while the first is being announced: it waits its turn
    now_number_is(page, e["number"])
    assert page.inner_text("#now-window") == "请到 16 号窗口办理"
    assert page.locator(f"#recent .call[data-number={a['number']}]").count() == 1  # the earlier call moved down
    screenshot(page, "hall-two-calls")

    # voice: A twice, then E (twice); every announcement starts after the previous one ended
    page.wait_for_function("() => window.__voiceLog.length >= 3", timeout=30000)
    log = page.evaluate("window.__voiceLog")
    assert [(x["number"], x["rep"]) for x in log[:3]] == [(a["number"], 1), (a["number"], 2), (e["number"], 1)]
    assert log[0]["clips"] == log[1]["clips"] == clip_sequence(a["number"], 1, "zh")
    assert log[0]["clips"] == ["qing", "A", "0", "0", "1", "hao-dao", "1", "hao-chuangkou-banli"]
    assert log[2]["clips"] == clip_sequence(e["number"], 16, "zh") == \
        ["qing", "E", "0", "0", "1", "hao-dao", "shi", "6", "hao-chuangkou-banli"]
    for x in log[:2]:
        assert x["played"] is True and x["end"] - x["at"] > 1000  # really played on the audio clock
    assert log[0]["end"] <= log[1]["at"] and log[1]["end"] <= log[2]["at"]
    assert {r.removeprefix("zh/").removesuffix(".wav") for r in clip_requests} == \
        set(log[0]["clips"]) | set(log[2]["clips"])  # each clip fetched once, from the zh set
    assert page.errors == []


def test_hall_fills_a_gap_in_the_sequence(hall_server, new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    page.goto(hall_server.base_url + "/display/hall?voice=off")
    wait_live(page)
    # lose the next ticket_called on the way in, as a flaky network might
    page.evaluate("""() => {
        const feed = window.__hall.feed, orig = feed.receive.bind(feed);
        window.__dropped = null;
        feed.receive = (type, p) => {
            if (type === 'ticket_called' && !window.__dropped) { window.__dropped = p.seq; return; }
            orig(type, p);
        };
    }""")
    t = hall_server.issue("police")
    hall_server.call_next("w23")
    now_number_is(page, t["number"])  # the next event revealed the gap; resync brought the call back
    stats = page.evaluate("window.__hall.feed.stats")
    assert page.evaluate("window.__dropped") is not None
    assert stats["gaps"] >= 1 and stats["resyncs"] >= 1 and stats["snapshots"] == 1
    assert page.inner_text("#now-window") == "请到 23 号窗口办理"
    head = requests.get(hall_server.base_url + "/api/v1/snapshot", timeout=5).json()["seq"]
    page.wait_for_function("s => Number(document.body.dataset.seq) === s", arg=head)
    hall_server.issue("police")  # and carries on in order: ticket_issued + queue_stats, no new gap
    page.wait_for_function("s => Number(document.body.dataset.seq) === s", arg=head + 2)
    assert page.evaluate("window.__hall.feed.stats.gaps") == stats["gaps"]
    assert page.errors == []


def test_window_top_screen_follows_its_window(hall_server, new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page(viewport={"width": 1280, "height": 720})
    page.goto(hall_server.base_url + "/display/window/w21")
    wait_live(page)
    assert page.inner_text("#wt-number") == "21"
    hall_cfg = requests.get(hall_server.base_url + "/api/v1/hall", timeout=5).json()
    w21 = next(w for w in hall_cfg["windows"] if w["id"] == "w21")
    assert w21["name"]["zh"] in page.inner_text(".wt-name")
    assert page.is_hidden("#wt-staff")  # no staff in the config yet: no staff slot repeating the window's name
    t = hall_server.issue("medical")
    hall_server.call_next("w21")
    page.wait_for_function("n => document.getElementById('wt-current').textContent === n", arg=t["number"])
    assert page.inner_text("#wt-current-note") == f"请 {t['number']} 号到本窗口办理"
    screenshot(page, "window-top-called")

    hall = new_page()
    hall.goto(hall_server.base_url + "/display/hall?voice=off")
    wait_live(hall)
    hall_server.window("w21", "start")
    hall_server.window("w21", "pause", {"reason": "系统维护"})
    page.wait_for_selector("#wt-status:not([hidden])")
    assert page.inner_text("#wt-status-zh") == "暂停服务"
    assert page.inner_text("#wt-reason") == "系统维护"
    hall.wait_for_selector("#paused li[data-window=w21]")
    assert "暂停服务" in hall.inner_text("#paused li[data-window=w21]")
    screenshot(page, "window-top-paused")
    hall_server.window("w21", "resume")
    page.wait_for_selector("#wt-status", state="hidden")
    hall.wait_for_selector("#paused li[data-window=w21]", state="detached")
    assert page.errors == [] and hall.errors == []


def test_tracker_shows_position_then_the_call(hall_server, new_page) -> None:  # type: ignore[no-untyped-def]
    first = hall_server.issue("civil")
    mine = hall_server.issue("civil")
    page = new_page(viewport=PHONE_VIEWPORT)
    page.goto(hall_server.base_url + f"/t/{mine['tracker_token']}")
    wait_live(page)
    page.wait_for_function("() => document.getElementById('tr-number').textContent !== '…'")
    assert page.inner_text("#tr-number") == mine["number"]
    assert page.inner_text("#tr-ahead") == "1 人"
    screenshot(page, "tracker-waiting")

    assert hall_server.call_next("w19")["number"] == first["number"]
    page.wait_for_function("() => document.getElementById('tr-ahead').textContent === '0 人'")
    hall_server.window("w19", "start")
    assert hall_server.call_next("w19")["number"] == mine["number"]
    page.wait_for_selector("#tr-called:not([hidden])")
    assert page.inner_text("#tr-called") == "您的号码已叫到 — 请到 19 号窗口"
    screenshot(page, "tracker-called")

    text = page.inner_text("body")
    assert first["number"] not in text  # nothing about anyone else
    assert page.locator("main button, main a, main form, main input").count() == 0  # no action on the ticket
    page.click(".tr-lang button[data-lang=en]")
    assert page.inner_text("#tr-called") == "Your number has been called — please go to window 19"
    page.click(".tr-lang button[data-lang=bo]")
    assert page.inner_text("#tr-queue") == "དམངས་སྲིད་ཞབས་ཞུ།"  # the queue's Tibetan name from the config
    assert page.errors == []
