"""The ``onewindow`` command."""

from __future__ import annotations

import sys

import click


@click.group(help="OneWindow: queue server, device simulators and agents for a government service hall.")
def cli() -> None:
    pass


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sim(args: tuple[str, ...]) -> None:
    """Start a device simulator: onewindow sim <kind> [options]; onewindow sim --help lists the kinds."""
    from devices.sim_cli import main as sim_main

    sys.exit(sim_main(list(args)))


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def agent(args: tuple[str, ...]) -> None:
    """Run a station's device agent: onewindow agent --config FILE --station NAME."""
    from devices.agent.cli import main as agent_main

    sys.exit(agent_main(list(args)))


def main() -> None:
    cli(prog_name="onewindow")


if __name__ == "__main__":
    main()
