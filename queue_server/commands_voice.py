"""``onewindow voice``: the Tibetan (or any) clip set of the hall screen — the phrases to record, recording from a
microphone, importing WAV files, and checking that a set is complete.

No offline Tibetan text-to-speech exists, so a Tibetan voice is recorded: ``voice phrases bo`` prints what to say,
``voice record bo`` records each missing clip (SoX's ``rec``), ``voice import bo FOLDER`` takes WAV files named
``<clip>.wav``, and ``voice check`` says what is still missing. Until a set is complete the hall screen announces
that language in Chinese.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import wave
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from display.voice import ClipSet

_LANG = click.Choice(["zh", "bo", "en"])


def _folder(directory: Path | None) -> Path:
    from display.voice import default_voice_dir

    return directory or default_voice_dir()


def _sets(directory: Path | None) -> dict[str, ClipSet]:
    from display.voice import load_clip_sets

    return load_clip_sets(_folder(directory))


def check_wav(path: Path) -> str | None:
    """Why a file cannot be a clip, or None: a readable PCM WAV, mono, 8–48 kHz, 0.1–10 s long."""
    try:
        with wave.open(str(path), "rb") as w:
            channels, rate, frames = w.getnchannels(), w.getframerate(), w.getnframes()
    except (wave.Error, EOFError, OSError) as exc:
        return f"not a PCM WAV file ({exc})"
    if channels != 1:
        return f"{channels} channels; record mono (sox in.wav -c 1 out.wav)"
    if not 8000 <= rate <= 48000:
        return f"sample rate {rate} Hz; use 16000–48000 Hz"
    seconds = frames / rate
    if not 0.1 <= seconds <= 10:
        return f"{seconds:.1f} s long; a clip is one word or phrase (0.1–10 s)"
    return None


def register(cli: click.Group) -> None:
    @cli.group(help="Voice clips of the hall screen's calls (config/voice/<lang>).")
    def voice() -> None:
        pass

    dir_option = click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
                              help="the voice folder (default: config/voice)")

    @voice.command("phrases", help="The phrases a speaker records for a language: clip name, text, meaning.")
    @click.argument("lang", type=_LANG)
    @dir_option
    def phrases(lang: str, directory: Path | None) -> None:
        from display.voice import required_clips

        sets = _sets(directory)
        if lang not in sets:
            click.echo(f"no manifest for {lang} in {_folder(directory) / lang}", err=True)
            sys.exit(2)
        s = sets[lang]
        click.echo(f"# {s.manifest.get('name', lang)}: {len(required_clips(lang))} clips")
        if s.manifest.get("sentence"):
            click.echo(f"# a call: {s.manifest['sentence']}")
        for name in required_clips(lang):
            entry = s.clip_entry(name) or {}
            have = "✓" if s.clip_path(name, sets) else " "
            click.echo(f"{have} {name:<20} {entry.get('text', ''):<24} {entry.get('gloss', '')}")

    @voice.command("check", help="Which clips each language still lacks; exit 1 when an enabled set is incomplete.")
    @click.option("--lang", "languages", multiple=True, type=_LANG)
    @dir_option
    def check(languages: tuple[str, ...], directory: Path | None) -> None:
        sets = _sets(directory)
        incomplete = False
        for lang in languages or tuple(sets):
            if lang not in sets:
                click.echo(f"{lang}: no manifest.json in {_folder(directory) / lang}")
                incomplete = True
                continue
            s = sets[lang]
            missing = s.missing(sets)
            bad = [(p.stem, why) for p in sorted(s.directory.glob("*.wav")) if (why := check_wav(p))]
            state = "complete" if not missing else f"{len(missing)} clip(s) missing"
            click.echo(f"{lang}: {state}{'' if s.enabled else ' (disabled in its manifest)'}")
            if missing:
                click.echo("  missing: " + " ".join(missing))
            for name, why in bad:
                click.echo(f"  {name}.wav: {why}")
            incomplete |= bool((missing and s.enabled) or bad)
        if incomplete:
            click.echo("until a set is complete the hall screen announces that language in Chinese", err=True)
        sys.exit(1 if incomplete else 0)

    @voice.command("import", help="Copy WAV files named <clip>.wav from FOLDER into a language's clip set.")
    @click.argument("lang", type=_LANG)
    @click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @dir_option
    def import_clips(lang: str, source: Path, directory: Path | None) -> None:
        from display.voice import required_clips

        target = _folder(directory) / lang
        if not (target / "manifest.json").is_file():
            click.echo(f"no manifest for {lang} in {target}", err=True)
            sys.exit(2)
        wanted = set(required_clips(lang))
        taken, refused = 0, 0
        for path in sorted(source.glob("*.wav")):
            if path.stem not in wanted:
                click.echo(f"skipped {path.name}: not a clip of {lang} (see: onewindow voice phrases {lang})")
                refused += 1
                continue
            why = check_wav(path)
            if why:
                click.echo(f"refused {path.name}: {why}")
                refused += 1
                continue
            shutil.copyfile(path, target / path.name)
            taken += 1
        click.echo(f"imported {taken} clip(s) into {target}; {refused} skipped")
        sys.exit(1 if refused and not taken else 0)

    @voice.command("record", help="Record each missing clip of a language from the microphone (SoX 'rec').")
    @click.argument("lang", type=_LANG)
    @click.option("--clip", "clips", multiple=True, help="only these clips (default: every missing one)")
    @click.option("--seconds", type=click.FloatRange(0.5, 10), default=2.5, show_default=True)
    @dir_option
    def record(lang: str, clips: tuple[str, ...], seconds: float, directory: Path | None) -> None:
        sets = _sets(directory)
        if lang not in sets:
            click.echo(f"no manifest for {lang} in {_folder(directory) / lang}", err=True)
            sys.exit(2)
        rec = shutil.which("rec")
        if rec is None:
            click.echo("no 'rec' command: install SoX (apt-get install sox), or record elsewhere and use "
                       f"'onewindow voice import {lang} FOLDER'", err=True)
            sys.exit(2)
        s = sets[lang]
        for name in clips or tuple(s.missing(sets)):
            entry = s.clip_entry(name) or {}
            click.echo(f"\n{name}: say  {entry.get('text', name)}   ({entry.get('gloss', '')})")
            if not click.confirm("ready? (Enter records, n skips)", default=True):
                continue
            out = s.directory / f"{name}.wav"
            subprocess.run([rec, "-q", "-c", "1", "-r", "16000", "-b", "16", str(out), "trim", "0", str(seconds),
                            "silence", "1", "0.05", "1%", "reverse", "silence", "1", "0.1", "1%", "reverse"],
                           check=False)
            why = check_wav(out) if out.exists() else "nothing was recorded"
            click.echo(f"  {'kept ' + out.name if why is None else 'not kept: ' + why}")
            if why and out.exists():
                out.unlink()
