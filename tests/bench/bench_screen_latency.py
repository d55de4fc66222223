"""Button press to hall-screen DOM update, in Chromium: p50 / p99 over N calls.

    .venv/bin/python -m tests.bench.bench_screen_latency [--calls 100] [--voice] [--json out.json]

A real server (``onewindow serve`` on a temporary SQLite file) and Debian's Chromium (Playwright, no browser
download). One page plays the window panel: a button whose click handler POSTs /api/v1/windows/w01/call-next.
Another page (its own browser context, like the hall PC) shows /display/hall. For every call the time runs from
the click handler starting (the press) to the hall page's DOM showing the called number (a MutationObserver on
the "now calling" number), both read from the browser's shared wall clock (performance.timeOrigin + now()).
Also reported: the REST round trip as seen by the panel, and press to the next animation frame on the hall
page (the frame that paints the number). Between calls the window starts the called ticket (not timed).
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

PANEL_JS = """() => {
  window.__presses = [];
  const b = document.createElement('button');
  b.id = 'call-next'; b.textContent = '叫号 call next';
  b.addEventListener('click', async () => {
    const t0 = performance.timeOrigin + performance.now();
    const r = await fetch('/api/v1/windows/w01/call-next', {method: 'POST',
      headers: {'content-type': 'application/json'}, body: '{}'});
    const body = await r.json();
    window.__presses.push({t0, t_resp: performance.timeOrigin + performance.now(), number: body.ticket.number});
  });
  document.body.prepend(b);
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
                panel = browser.new_context(locale="zh-CN").new_page()
                panel.goto(server.base_url + "/display/")
                panel.evaluate(PANEL_JS)
                rows = []
                for i in range(calls):
                    if i:
                        server.window("w01", "start")
                    panel.click("#call-next")
                    panel.wait_for_function("n => window.__presses.length === n", arg=i + 1)
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
