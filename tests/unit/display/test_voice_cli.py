"""``onewindow voice``: a Tibetan clip set is imported from WAV files and checked until it is complete."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

from click.testing import CliRunner

from display.voice import default_voice_dir, load_clip_sets
from queue_server.commands import cli


def _wav(path: Path, seconds: float = 0.4, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * channels * int(16000 * seconds))


def test_import_then_check_a_tibetan_set(tmp_path: Path) -> None:
    voice = tmp_path / "voice"
    for lang in ("zh", "bo"):
        shutil.copytree(default_voice_dir() / lang, voice / lang)
    run = CliRunner().invoke
    before = run(cli, ["voice", "check", "--lang", "bo", "--dir", str(voice)])
    assert before.exit_code == 1 and "bo: 49 clip(s) missing" in before.output

    sets = load_clip_sets(voice)
    src = tmp_path / "recorded"
    src.mkdir()
    for name in sets["bo"].missing(sets):
        _wav(src / f"{name}.wav")
    _wav(src / "stereo.wav", channels=2)  # not a clip name: skipped
    _wav(src / "bogus-name.wav")
    (src / "0.wav").write_bytes(b"not a wav")  # a broken recording is refused
    out = run(cli, ["voice", "import", "bo", str(src), "--dir", str(voice)])
    assert out.exit_code == 0, out.output
    assert "refused 0.wav: not a PCM WAV file" in out.output and "skipped bogus-name.wav" in out.output
    assert "imported 48 clip(s)" in out.output

    after = run(cli, ["voice", "check", "--lang", "bo", "--dir", str(voice)])
    assert after.exit_code == 1 and "missing: 0" in after.output  # only the refused clip is still missing
    _wav(src / "0.wav")
    run(cli, ["voice", "import", "bo", str(src), "--dir", str(voice)])
    done = run(cli, ["voice", "check", "--lang", "bo", "--dir", str(voice)])
    assert done.exit_code == 0 and "bo: complete" in done.output
    phrases = run(cli, ["voice", "phrases", "bo", "--dir", str(voice)]).output
    assert "window-number" in phrases and "སྒེའུ་ཁུང་ཨང་" in phrases
