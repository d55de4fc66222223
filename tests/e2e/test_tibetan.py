"""The citizen's pages in Tibetan: a ticket's tracker, a case's progress and the rating page, opened in Chromium
with the language the QR link carries (?lang=bo), show no interface text of the Chinese reference that the Tibetan
file translates — every check is against config/i18n, so a text added to zh.yaml without its Tibetan fails here."""

from __future__ import annotations

import re
from typing import Any

from queue_server.i18n import flatten, load
from tests.e2e.conftest import PHONE_VIEWPORT, screenshot

ITEM = "teacher-registration"
ID = "11010519491231002X"
_HAN = re.compile(r"[\u4e00-\u9fff]")


def chinese_fragments(*sections: str) -> set[str]:
    """Every piece of Chinese interface text of these sections (between placeholders), 3 characters or more."""
    zh = load()["zh"]
    out: set[str] = set()
    for section in ("common", *sections):
        for text in flatten(zh.get(section, {})).values():
            for piece in re.split(r"\{\w+\}", text):
                piece = piece.strip(" ：:，,。（）()·—")
                if len(piece) >= 3 and _HAN.search(piece):
                    out.add(piece)
    return out


def untranslated(page: Any, *sections: str) -> list[str]:
    shown = page.evaluate("document.body.innerText")
    return sorted(f for f in chinese_fragments(*sections) if f in shown)


def test_tracker_case_and_rating_pages_are_tibetan(hall_server, new_page) -> None:  # type: ignore[no-untyped-def]
    base = hall_server.base_url
    ticket = hall_server.issue("tax")
    page = new_page(viewport=PHONE_VIEWPORT, locale="zh-CN")
    page.goto(f"{base}/t/{ticket['tracker_token']}?lang=bo")
    page.wait_for_function("() => document.querySelector('#tr-number').innerText.trim() !== '…'")
    page.wait_for_function("() => document.querySelector('#tr-est').innerText.trim() !== '—'")  # an estimate
    assert page.evaluate("document.documentElement.lang") == "bo"
    assert "སྐར་མ་" in page.inner_text("#tr-est")  # minutes, in Tibetan
    assert untranslated(page, "tracker") == []
    screenshot(page, "tracker-bo")

    # a case accepted with a 容缺 item: steps, facts, the deficiency list
    accepted = hall_server.post("/api/v1/cases", {
        "item_id": ITEM, "applicant_name": "王小娜", "id_number": ID, "window_id": "w01",
        "materials": ["e_licence", "original", "original", "missing"]})["case"]
    hall_server.post(f"/api/v1/cases/{accepted['id']}/accept-with-deficiency", {"undertaking": True})
    page.goto(f"{base}/case/{accepted['tracker_token']}")  # the language chosen before stays
    page.wait_for_selector("#cs-deficiency")
    assert page.evaluate("document.documentElement.lang") == "bo"
    # the item has no Tibetan name yet: its Chinese name is shown marked as Chinese, not passed off as Tibetan
    assert page.inner_text("#cs-item .zh-fallback .zh-tag") == "རྒྱ་ཡིག"
    assert untranslated(page, "case") == []
    screenshot(page, "case-bo")

    # a rejected case offers the rating; the rating page, with a 差评's reasons open, is Tibetan too
    rejected = hall_server.post("/api/v1/cases", {
        "item_id": ITEM, "applicant_name": "王小娜", "id_number": ID, "window_id": "w01",
        "materials": ["e_licence", "original", "original", "original"]})["case"]
    hall_server.post(f"/api/v1/cases/{rejected['id']}/reject", {"reasons": ["不属于本中心受理范围"]})
    page.goto(f"{base}/case/{rejected['tracker_token']}")
    page.wait_for_selector("#cs-eval-link:not([hidden])")
    assert untranslated(page, "case") == []
    page.click("#cs-eval-link")
    page.wait_for_selector(".ev-level")
    assert "lang=bo" in page.url
    page.click(".ev-level[data-level='1']")
    page.click("#ev-submit")  # no reason chosen: the error, in Tibetan
    page.wait_for_selector("#ev-error:not([hidden])")
    assert not _HAN.search(page.inner_text("#ev-error"))
    assert untranslated(page, "evaluate") == []
    screenshot(page, "evaluate-bo")
    assert page.errors == []
