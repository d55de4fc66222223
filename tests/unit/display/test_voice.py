"""Voice-call clip sequencing (display/voice.py), its JavaScript twin (display/static/voice.js), and the clip sets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from display.voice import (
    LANGUAGES,
    MAX_WINDOW,
    VoiceError,
    clip_sequence,
    complete_languages,
    default_voice_dir,
    load_clip_sets,
    required_clips,
    split_number,
)

REPO = Path(__file__).resolve().parents[3]
VOICE_JS = REPO / "display" / "static" / "voice.js"


@pytest.mark.parametrize(("number", "window", "expected"), [
    ("A001", 3, ["qing", "A", "0", "0", "1", "hao-dao", "3", "hao-chuangkou-banli"]),
    ("B120", 10, ["qing", "B", "1", "2", "0", "hao-dao", "shi", "hao-chuangkou-banli"]),
    ("S007", 12, ["qing", "S", "0", "0", "7", "hao-dao", "shi", "2", "hao-chuangkou-banli"]),
    ("H999", 20, ["qing", "H", "9", "9", "9", "hao-dao", "2", "shi", "hao-chuangkou-banli"]),
    ("K010", 31, ["qing", "K", "0", "1", "0", "hao-dao", "3", "shi", "1", "hao-chuangkou-banli"]),
    ("A001", 100, ["qing", "A", "0", "0", "1", "hao-dao", "1", "bai", "hao-chuangkou-banli"]),
    ("A001", 105, ["qing", "A", "0", "0", "1", "hao-dao", "1", "bai", "0", "5", "hao-chuangkou-banli"]),
    ("A001", 110, ["qing", "A", "0", "0", "1", "hao-dao", "1", "bai", "1", "shi", "hao-chuangkou-banli"]),
    ("A001", 999, ["qing", "A", "0", "0", "1", "hao-dao", "9", "bai", "9", "shi", "9", "hao-chuangkou-banli"]),
    ("AB12", 1, ["qing", "A", "B", "1", "2", "hao-dao", "1", "hao-chuangkou-banli"]),
    (" a001 ", 1, ["qing", "A", "0", "0", "1", "hao-dao", "1", "hao-chuangkou-banli"]),
])
def test_mandarin_sequence(number: str, window: int, expected: list[str]) -> None:
    assert clip_sequence(number, window, "zh") == expected


def test_mandarin_is_the_default_language() -> None:
    assert clip_sequence("A001", 3) == clip_sequence("A001", 3, "zh")


@pytest.mark.parametrize(("window", "tail"), [
    (3, ["3"]), (13, ["n13"]), (20, ["n20"]), (42, ["n40", "2"]), (100, ["1", "hundred"]),
    (115, ["1", "hundred", "n15"]), (230, ["2", "hundred", "n30"]),
])
def test_english_window_numbers(window: int, tail: list[str]) -> None:
    assert clip_sequence("C045", window, "en") == ["number", "C", "0", "4", "5", "please-go-to-window", *tail]


@pytest.mark.parametrize(("window", "middle"), [
    (3, ["3"]), (15, ["n15"]), (18, ["n18"]), (20, ["n20"]), (21, ["n20", "c20", "1"]),
    (34, ["n30", "c30", "4"]), (100, ["n100"]), (101, ["n100", "dang", "1"]), (325, ["n300", "dang", "n20", "c20", "5"]),
])
def test_tibetan_window_numbers(window: int, middle: list[str]) -> None:
    assert clip_sequence("A1", window, "bo") == ["number", "A", "1", "window-number", *middle, "please-go"]


@pytest.mark.parametrize("bad", ["", "001", "A", "ABC001", "A-001", "A001X", "A123456", "甲001"])
def test_malformed_numbers_are_refused(bad: str) -> None:
    with pytest.raises(VoiceError):
        clip_sequence(bad, 1)


@pytest.mark.parametrize("window", [0, -1, 1000, 1.5, "3", True, None])
def test_window_numbers_out_of_range_are_refused(window) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(VoiceError):
        clip_sequence("A001", window)


def test_unknown_language_is_refused() -> None:
    with pytest.raises(VoiceError, match="language"):
        clip_sequence("A001", 1, "fr")


def test_split_number() -> None:
    assert split_number("AB0012") == (["A", "B"], ["0", "0", "1", "2"])


def test_every_sequence_uses_only_required_clips() -> None:
    for lang in LANGUAGES:
        req = set(required_clips(lang))
        for w in range(1, MAX_WINDOW + 1):
            assert set(clip_sequence("ZZ98765", w, lang)) <= req


# ----------------------------------------------------------------------------------------- the JS twin

def _node() -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed; the JS twin is still checked in the browser by tests/e2e")
    return node


def test_javascript_twin_gives_the_same_sequences() -> None:
    numbers = ["A001", "B120", "AB12", "Z9", "K00000", " c045 "]
    cases = [(n, w, lang) for lang in LANGUAGES for n in numbers for w in range(1, MAX_WINDOW + 1)]
    script = f"""
const v = require({json.dumps(str(VOICE_JS))});
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(cases.map(([n, w, l]) => v.clipSequence(n, w, l))));
"""
    out = subprocess.run([_node(), "-e", script], input=json.dumps(cases), capture_output=True, text=True,
                         check=True, timeout=60).stdout
    got = json.loads(out)
    for (n, w, lang), js in zip(cases, got, strict=True):
        assert js == clip_sequence(n, w, lang), (n, w, lang)


def test_javascript_twin_refuses_what_python_refuses() -> None:
    cases = [["", 1, "zh"], ["A001", 0, "zh"], ["A001", 1000, "zh"], ["A001", 1.5, "zh"], ["A001", "3", "zh"],
             ["A001", 1, "fr"], ["A123456", 1, "zh"]]
    script = """
const v = require(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(cases.map(([n, w, l]) => {
  try { v.clipSequence(n, w, l); return null; } catch (e) { return e.name; }
})));
"""
    out = subprocess.run([_node(), "-e", script, str(VOICE_JS)], input=json.dumps(cases), capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert json.loads(out) == ["VoiceError"] * len(cases)


# ----------------------------------------------------------------------------------------- clip sets

def test_committed_sets_cover_every_clip() -> None:
    sets = load_clip_sets(default_voice_dir())
    assert set(sets) == {"zh", "en", "bo"}
    for lang, s in sets.items():
        assert set(required_clips(lang)) <= set(s.manifest["clips"]), lang
    assert sets["zh"].missing(sets) == []
    assert sets["en"].missing(sets) == []
    # Tibetan is to be recorded: only the letters (reused from Mandarin) are there
    assert set(sets["bo"].missing(sets)) == set(required_clips("bo")) - set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert complete_languages(sets) == ["zh"]  # en exists but is not enabled; bo is enabled but incomplete


def test_a_recorded_set_takes_part_once_complete(tmp_path: Path) -> None:
    hall_dir = tmp_path / "voice"
    bo = hall_dir / "bo"
    bo.mkdir(parents=True)
    manifest = json.loads((default_voice_dir() / "bo" / "manifest.json").read_text(encoding="utf-8"))
    (bo / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    wav = (default_voice_dir() / "zh" / "qing.wav").read_bytes()
    sets = load_clip_sets(hall_dir, default_voice_dir())
    assert "bo" not in complete_languages(sets)
    for clip in sets["bo"].missing(sets):
        (bo / f"{clip}.wav").write_bytes(wav)
    assert complete_languages(load_clip_sets(hall_dir, default_voice_dir())) == ["zh", "bo"]
    assert sets["bo"].clip_path("A", sets) == default_voice_dir() / "zh" / "A.wav"  # reused letter
    assert sets["bo"].clip_path("../zh/qing", sets) is None


def test_default_clips_are_small_mono_wavs() -> None:
    import wave

    total = 0
    for f in sorted((default_voice_dir()).glob("*/*.wav")):
        with wave.open(str(f), "rb") as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000), f
            assert 0.1 < w.getnframes() / w.getframerate() < 2.5, f
        total += f.stat().st_size
    assert total < 2_000_000


def test_clips_regenerate_byte_for_byte(tmp_path: Path) -> None:
    """scripts/make_voice_clips is reproducible: same espeak-ng and sox, same bytes as the committed set."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        pytest.skip("espeak-ng and sox are needed to regenerate the clips")
    manifest = json.loads((default_voice_dir() / "zh" / "manifest.json").read_text(encoding="utf-8"))
    engine = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    if manifest["source"]["engine"] not in engine:
        pytest.skip(f"espeak-ng here is not {manifest['source']['engine']}")
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_voice_clips"), "--out", str(tmp_path),
                    "--lang", "zh"], check=True, capture_output=True, timeout=120)
    for f in sorted((default_voice_dir() / "zh").glob("*.wav")):
        assert (tmp_path / "zh" / f.name).read_bytes() == f.read_bytes(), f.name
