"""The `sftjob` command."""

from __future__ import annotations

import click

from sftjob_cli.convert import convert


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sftjob-operator", prog_name="sftjob")
def main() -> None:
    """Work with SFTJobs: TRL supervised fine-tuning on Kubernetes."""


main.add_command(convert)
