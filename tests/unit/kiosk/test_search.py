"""Item search at the kiosk: Chinese text, pinyin initials (qykb -> 企业开办), full pinyin, what people call it."""

from __future__ import annotations

import pytest

from queue_server.domain.search import Entry, SearchIndex, Spelling, normalise


def names(setup, query: str, n: int = 5) -> list[str]:
    return [h.name for h in setup.index.find(query, limit=n)]


def test_initials_find_the_theme_tile_first_then_its_items(setup):
    hits = setup.index.find("qykb", limit=12)
    assert (hits[0].kind, hits[0].name) == ("tile", "企业开办")
    items = [h.id for h in hits if h.kind == "item"]
    assert "company-establishment" in items and "company-bank-account" in items  # by their theme 企业开办


@pytest.mark.parametrize(("query", "expected"), [
    ("sfz", "居民身份证"),  # initials inside the name
    ("jhdj", "内地居民结婚登记"),
    ("身份证", "居民身份证"),  # Chinese text
    ("护照", "普通护照签发"),
    ("yidi", "异地就医备案"),  # full pinyin, typed partly
    ("hunyin", "婚姻登记"),
    ("社保卡", "社会保障卡"),  # what people call it (keywords in flows.yaml)
    ("sbk", "社会保障卡"),
    ("ＱＹＫＢ", "企业开办"),  # full-width capitals from an IME
    ("居民 身份证", "居民身份证"),  # spaces ignored
])
def test_queries_find_the_item(setup, query, expected):
    assert any(expected in n for n in names(setup, query)), names(setup, query)


def test_polyphonic_characters_use_the_phrase_reading_first():
    sp = Spelling.of("企业银行开户")
    assert sp.main_initials == "qyyhkh"  # 银行 is yin hang, not yin xing
    index = SearchIndex([Entry("item", "bank", "企业银行基本存款账户开立"), Entry("item", "walk", "步行街管理")])
    assert [h.id for h in index.find("yh")] == ["bank"]
    assert [h.id for h in index.find("bxj")] == ["walk"]  # 行 as xing in 步行
    assert index.find("yx")[0].id == "bank"  # a rarer reading still finds it, ranked by the usual one


def test_nothing_and_odd_input(setup):
    assert setup.index.find("") == []
    assert setup.index.find("   ") == []
    assert setup.index.find("zzzzzz") == []
    assert setup.index.find("!!!") == []
    assert normalise("（居民）身份证·补领") == "居民身份证补领"


def test_one_letter_only_finds_what_starts_with_it(setup):
    hits = setup.index.find("h", limit=200)
    by_name = [h for h in hits if h.matched == "pinyin"]
    assert by_name and all(Spelling.of(h.name).main_initials.startswith("h") for h in by_name)
    assert not [h for h in hits if h.name == "居民身份证换领" and h.matched == "pinyin"]  # 换 is inside, not first


def test_limit_and_order_are_stable(setup):
    a = [h.id for h in setup.index.find("dj", limit=10)]
    b = [h.id for h in setup.index.find("dj", limit=10)]
    assert a == b and len(a) == 10


def test_sfz_finds_id_cards_not_a_department_starting_with_those_letters() -> None:
    from queue_server.hall_config import load_hall
    from queue_server.i18n import load_texts
    from queue_server.kiosk_config import load_kiosk

    setup = load_kiosk(load_hall(None), load_texts())
    ids = [h.id for h in setup.index.find("sfz")]
    assert ids and all(i.endswith("id-card") or i.startswith("id-card") for i in ids), ids  # not 市发展改革局's items
