"""Button press to hall-screen DOM update, in Chromium: p50 / p99 over N calls.

    .venv/bin/python -m tests.bench.bench_screen_latency [--calls 100] [--voice] [--json out.json]

A real server (``onewindow serve`` on a temporary SQLite file) and Debian's Chromium (Playwright, no browser
download). One page is the real window panel (/staff/panel, logged in as a supervisor at window 1): the press is
the F1 key. Another page (its own browser context, like the hall PC) shows /display/hall. For every call the time
runs from the F1 keydown to the hall page's DOM showing the called number (a MutationObserver on the "now
calling" number), both read from the browser's shared wall clock (performance.timeOrigin + now()). Also
reported: press to the panel's own number changing (its REST round trip and render), and press to the next
animation frame on the hall page. Between calls the clerk presses F3 (start; not timed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, HALL_VIEWPORT, HallServer
from tests.support.live import PASSWORD

PANEL_JS = """() => {
  // The press: the F1 keydown, caught before the panel's own handler; the panel's reply: its number changing
  // (a re-render of the previous number, e.g. from a refresh, does not count).
  window.__presses = [];
  const target = document.getElementById('current-number');
  document.addEventListener('keydown', (e) => {
    if (e.key === 'F1') window.__presses.push({t0: performance.timeOrigin + performance.now(), t_resp: null,
                                               prev: target.textContent});
  }, true);
  new MutationObserver(() => {
    const last = window.__presses[window.__presses.length - 1];
    if (last && last.t_resp === null && target.textContent !== '—' && target.textContent !== last.prev) {
      last.t_resp = performance.timeOrigin + performance.now();
      last.number = target.textContent;
    }
  }).observe(target, {childList: true, characterData: true, subtree: true});
}"""

HALL_JS = """() => {
  window.__seen = {};
  const target = document.getElementById('now-number');
  new MutationObserver(() => {
    const n = target.textContent, t = performance.timeOrigin + performance.now();
    if (window.__seen[n]) return;
    window.__seen[n] = {dom: t, frame: null};
    requestAnimationFrame(() => { window.__seen[n].frame = performance.timeOrigin + performance.now(); });
  }).observe(target, {childList: true, characterData: true, subtree: true});
}"""


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(pct(values, 50), 2), "p90": round(pct(values, 90), 2), "p99": round(pct(values, 99), 2),
            "mean": round(statistics.fmean(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


def run(calls: int, voice: bool) -> dict:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-screen-") as tmp:
        server = HallServer(Path(tmp)).start()
        try:
            for _ in range(calls):
                server.issue("comprehensive")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                hall = browser.new_context(viewport=HALL_VIEWPORT, locale="zh-CN").new_page()
                hall.goto(server.base_url + "/display/hall" + ("" if voice else "?voice=off"))
                hall.wait_for_selector("body[data-live=live]")
                hall.evaluate(HALL_JS)
                panel = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900}).new_page()
                panel.goto(server.base_url + "/staff/login?next=/staff/panel%3Fwindow%3Dw01")
                panel.fill("#username", "tester")
                panel.fill("#password", PASSWORD)
                panel.click("#login-button")
                panel.wait_for_selector("#current-number")
                panel.wait_for_function("() => !document.querySelector('[data-action=call-next]').disabled")
                panel.evaluate(PANEL_JS)
                rows = []
                for i in range(calls):
                    if i:  # the clerk starts serving (F3); the next F1 finishes that one and calls the next
                        panel.keyboard.press("F3")
                        panel.wait_for_function("() => !document.querySelector('[data-action=call-next]').disabled")
                    panel.keyboard.press("F1")
                    panel.wait_for_function("n => window.__presses.length === n && window.__presses[n - 1].t_resp",
                                            arg=i + 1)
                    press = panel.evaluate("window.__presses[window.__presses.length - 1]")
                    hall.wait_for_function("n => window.__seen[n] && window.__seen[n].frame", arg=press["number"])
                    seen = hall.evaluate("n => window.__seen[n]", press["number"])
                    rows.append({"number": press["number"], "rest_ms": press["t_resp"] - press["t0"],
                                 "dom_ms": seen["dom"] - press["t0"], "frame_ms": seen["frame"] - press["t0"]})
                    time.sleep(0.02)
                browser.close()
        finally:
            server.stop()
    return {
        "calls": calls,
        "voice": voice,
        "press_to_dom_ms": summary([r["dom_ms"] for r in rows]),
        "press_to_frame_ms": summary([r["frame_ms"] for r in rows]),
        "rest_round_trip_ms": summary([r["rest_ms"] for r in rows]),
        "dom_before_rest_reply": sum(r["dom_ms"] < r["rest_ms"] for r in rows),
        "rows": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--voice", action="store_true", help="announce calls too (the queue grows; DOM is unaffected)")
    ap.add_argument("--json", type=Path, default=ARTIFACTS / "bench_screen_latency.json")
    args = ap.parse_args()
    result = run(args.calls, args.voice)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print(f"button press -> hall screen DOM, {result['calls']} calls (Chromium {CHROMIUM}, threading server, SQLite)")
    for key in ("press_to_dom_ms", "press_to_frame_ms", "rest_round_trip_ms"):
        s = result[key]
        print(f"  {key:20s} p50 {s['p50']:7.2f}  p90 {s['p90']:7.2f}  p99 {s['p99']:7.2f}  "
              f"mean {s['mean']:7.2f}  max {s['max']:7.2f}")
    print(f"  DOM updated before the panel had its REST reply: {result['dom_before_rest_reply']}/{result['calls']}")
    print(f"  raw: {args.json}")


if __name__ == "__main__":
    sys.exit(main())
