"""``onewindow i18n check``: the translations' gaps, for the hall's translators."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def register(cli: click.Group) -> None:
    @cli.group(help="Translations of the citizen pages (config/i18n).")
    def i18n() -> None:
        pass

    @i18n.command("check", help="List every missing, empty or untranslated text; exit 1 if there is one.")
    @click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="the translations folder (default: config/i18n)")
    @click.option("--lang", "languages", multiple=True, type=click.Choice(["bo", "en"]),
                  help="only these languages (default: bo and en)")
    def i18n_check(directory: Path | None, languages: tuple[str, ...]) -> None:
        from .i18n import flatten, load, problems

        try:
            catalogue = load(directory)
        except (OSError, ValueError) as exc:  # a YAML error is a ValueError too
            click.echo(f"cannot read the translations: {exc}", err=True)
            sys.exit(2)
        found = problems(catalogue, languages or ("bo", "en"))
        total = len(flatten(catalogue.get("zh", {})))
        for line in found:
            click.echo(line)
        click.echo(f"{len(found)} problem(s) in {total} texts" if found else f"all {total} texts translated",
                   err=bool(found))
        sys.exit(1 if found else 0)
