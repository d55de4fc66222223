"""The translation files: the shipped ones are complete, and the check finds each kind of gap."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from queue_server.commands import cli
from queue_server.i18n import I18N_DIR, load, page_strings, problems, text


def test_the_shipped_translations_have_no_gap() -> None:
    assert problems(load()) == []


def test_the_check_names_missing_untranslated_and_mismatched_texts(tmp_path: Path) -> None:
    for lang in ("zh", "bo", "en"):
        shutil.copy(I18N_DIR / f"{lang}.yaml", tmp_path / f"{lang}.yaml")
    bo = (tmp_path / "bo.yaml").read_text(encoding="utf-8")
    bo = bo.replace("  your_number: ཁྱེད་ཀྱི་ཨང་རྟགས།\n", "")  # missing
    bo = bo.replace("  done: ལས་དོན་གྲུབ་ཟིན། ཁྱེད་ཀྱིས་ཁ་སྒུག་གནང་བར་ཐུགས་རྗེ་ཆེ།", "  done: 已办结，感谢您的耐心等候")
    bo = bo.replace('  ahead: "མི་ {n}"', '  ahead: "མི་ {count}"')  # a placeholder renamed
    (tmp_path / "bo.yaml").write_text(bo + "\nextra:\n  typo_key: x\n", encoding="utf-8")
    found = problems(load(tmp_path), ("bo",))
    assert found == sorted([
        "bo: extra.typo_key: not in zh.yaml (a typing error in the key?)",
        "bo: tracker.ahead: placeholders ['count'] differ from the Chinese ['n']",
        "bo: tracker.done: untranslated (still the Chinese text)",
        "bo: tracker.your_number: missing (Chinese: 您的号码)",
    ])
    # the page falls back to Chinese for the missing text, and the CLI reports the same lines with exit 1
    assert page_strings(load(tmp_path), "tracker")["bo"]["your_number"] == "您的号码"
    result = CliRunner().invoke(cli, ["i18n", "check", "--dir", str(tmp_path), "--lang", "bo"])
    assert result.exit_code == 1 and "bo: tracker.your_number: missing" in result.output
    assert CliRunner().invoke(cli, ["i18n", "check"]).exit_code == 0


def test_one_text_formatted_in_each_language() -> None:
    cat = load()
    assert text(cat, "zh", "ticket.ahead", n=3) == "前面还有 3 人等候"
    assert text(cat, "bo", "ticket.ahead", n=3) == "མདུན་དུ་མི་ 3 སྒུག་བཞིན་ཡོད།"
    assert text(cat, "en", "hall.call", number="A001", window=3) == "Number A001, please go to window 3"
