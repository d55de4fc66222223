"""``make screenshots``: every staff page at 1440×900 and every citizen page in zh, bo and en, from a fresh demo
server with a little data (a called ticket, cases in several states), into a folder for review.

    python -m tests.support.screenshots var/screenshots

Uses Playwright with the system Chromium (/usr/bin/chromium, or ONEWINDOW_CHROMIUM); downloads nothing.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, HallServer
from tests.support.live import PASSWORD, StaffSession, add_staff

STAFF_VIEWPORT = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREEN = {"width": 1920, "height": 1080}
ITEM = "teacher-registration"
ID = "11010519491231002X"


def _prepare(server: HallServer) -> dict[str, Any]:
    """A ticket being served at w01, a case accepted with a 容缺 item, one ready with an evaluation."""
    boss = StaffSession(server.base_url)
    ticket = boss.post("/tickets", json={"item_id": ITEM}).json()["ticket"]
    boss.post("/tickets", json={"queue_id": "comprehensive"})
    boss.post("/windows/w01/call-next")
    waiting = boss.post("/tickets", json={"queue_id": "tax"}).json()["ticket"]
    case = boss.post("/cases", json={"item_id": ITEM, "applicant_name": "王小娜", "id_number": ID,
                                     "window_id": "w01", "ticket_id": ticket["id"],
                                     "materials": ["e_licence", "original", "original", "missing"]}).json()["case"]
    notice = boss.post(f"/cases/{case['id']}/accept-with-deficiency", json={"undertaking": True}).json()["notice"]
    done = boss.post("/cases", json={"item_id": ITEM, "applicant_name": "李然", "id_number": ID, "window_id": "w01",
                                     "materials": ["e_licence", "original", "original", "original"]}).json()["case"]
    boss.post(f"/cases/{done['id']}/reject", json={"reasons": ["不属于本中心受理范围"]})
    with sqlite3.connect(server.database) as db:
        tokens = dict(db.execute("SELECT id, tracker_token FROM cases").fetchall())
        ev = db.execute("SELECT token FROM evaluation_requests ORDER BY id DESC LIMIT 1").fetchone()
    return {"ticket": ticket, "waiting": waiting, "case": case, "notice": notice, "case_token": tokens[case["id"]],
            "rejected_token": tokens[done["id"]], "evaluation_token": ev[0] if ev else None}


def _shot(page: Any, out: Path, name: str, url: str, wait: str | None = None) -> None:
    page.goto(url)
    if wait:
        page.wait_for_selector(wait, timeout=15000)
    time.sleep(0.4)  # fonts and the live connection settle
    page.screenshot(path=str(out / f"{name}.png"), full_page=False)
    print(f"  {name}.png")


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = HallServer(Path(tmp))
        add_staff(server.database)
        add_staff(server.database, "li.na", roles=("window_staff",), windows=("w01",), name="李娜")
        server.logs.append(Path(tmp) / "none.log")
        server.start()
        try:
            data = _prepare(server)
            base = server.base_url
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                ctx = browser.new_context(viewport=STAFF_VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
                page = ctx.new_page()
                _shot(page, out, "staff-login", f"{base}/staff/login", "#login-form")
                page.fill("#username", "tester")
                page.fill("#password", PASSWORD)
                page.click("#login-button")
                page.wait_for_url("**/staff/")
                print("staff pages (1440×900):")
                _shot(page, out, "staff-home", f"{base}/staff/", ".tiles")
                _shot(page, out, "staff-panel", f"{base}/staff/panel?window=w01", "#current-number")
                _shot(page, out, "staff-intake-from-ticket",
                      f"{base}/staff/cases/intake?ticket_id={data['ticket']['id']}&window_id=w01", "#materials")
                _shot(page, out, "staff-case", f"{base}/staff/cases/{data['case']['id']}", "#history")
                page.click("button[data-act=approve]")
                time.sleep(0.3)
                page.screenshot(path=str(out / "staff-case-dialog.png"))
                print("  staff-case-dialog.png")
                page.keyboard.press("Escape")
                _shot(page, out, "staff-cases", f"{base}/staff/cases", "table")
                _shot(page, out, "staff-supervision", f"{base}/staff/cases/supervision", "h1")
                _shot(page, out, "staff-notice", f"{base}/staff/notices/{data['notice']['id']}", "h1")
                _shot(page, out, "staff-not-found", f"{base}/staff/no-such-page", "h1")
                ctx.close()
                print("citizen pages (zh, bo, en):")
                for lang in ("zh", "bo", "en"):
                    phone = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai")
                    pg = phone.new_page()
                    _shot(pg, out, f"tracker-{lang}", f"{base}/t/{data['waiting']['tracker_token']}?lang={lang}",
                          "#tr-number")
                    _shot(pg, out, f"case-{lang}", f"{base}/case/{data['case_token']}?lang={lang}", "#cs-number")
                    _shot(pg, out, f"case-rejected-{lang}", f"{base}/case/{data['rejected_token']}?lang={lang}",
                          "#cs-number")
                    if data["evaluation_token"]:
                        _shot(pg, out, f"evaluate-{lang}", f"{base}/evaluate/{data['evaluation_token']}?lang={lang}",
                              ".ev-level")
                    phone.close()
                    wide = browser.new_context(viewport=SCREEN, locale="zh-CN", timezone_id="Asia/Shanghai")
                    pg = wide.new_page()
                    pg.goto(f"{base}/kiosk/?station=kiosk-1")
                    pg.wait_for_selector("body[data-ready='1']")
                    if lang != "zh":
                        pg.click(f"[data-lang={lang}]")
                    time.sleep(0.5)
                    pg.screenshot(path=str(out / f"kiosk-home-{lang}.png"))
                    print(f"  kiosk-home-{lang}.png")
                    wide.close()
                wide = browser.new_context(viewport=SCREEN, locale="zh-CN", timezone_id="Asia/Shanghai")
                pg = wide.new_page()
                _shot(pg, out, "hall-screen", f"{base}/display/hall?voice=off", "#now-number")
                _shot(pg, out, "window-screen", f"{base}/display/window/w01", "body")
                wide.close()
                browser.close()
        finally:
            server.stop()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    os.environ.setdefault("ONEWINDOW_LOG", "WARNING")
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "var/screenshots"))
