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
    @click.option("--catalogue", "with_names", is_flag=True, help="also list service items and materials with no translation "
                  "(config/i18n/catalogue.yaml; the kiosk shows those in Chinese, marked)")
    def i18n_check(directory: Path | None, languages: tuple[str, ...], with_names: bool) -> None:
        from .hall_config import ConfigError
        from .i18n import flatten, load, load_names, names_missing, problems

        try:
            catalogue = load(directory)
            names = load_names(directory) if with_names else {}
        except (OSError, ConfigError) as exc:
            click.echo(f"cannot read the translations: {exc}", err=True)
            sys.exit(2)
        found = problems(catalogue, languages or ("bo", "en"))
        total = len(flatten(catalogue.get("zh", {})))
        if with_names:
            from .hall_config import load_hall

            hall = load_hall(None)
            materials = sorted({m.name for i in hall.items for m in i.materials})
            for lang in languages or ("bo", "en"):
                gaps = names_missing(names, [i.id for i in hall.items], materials, lang)
                found += gaps
                click.echo(f"{lang}: {len(gaps)} of {len(hall.items) + len(materials)} item and material names "
                           "untranslated", err=True)
        for line in found:
            click.echo(line)
        click.echo(f"{len(found)} problem(s) in {total} texts" if found else f"all {total} texts translated",
                   err=bool(found))
        sys.exit(1 if found else 0)
