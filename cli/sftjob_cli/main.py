"""The `sftjob` command (also installed as the kubectl plugin `kubectl-sftjob`)."""

from __future__ import annotations

import errno
import sys
from typing import Any

import click

from sftjob_cli.convert import convert
from sftjob_cli.delete import delete
from sftjob_cli.describe import describe
from sftjob_cli.get import get
from sftjob_cli.local import run
from sftjob_cli.logs import logs
from sftjob_cli.plot import plot
from sftjob_cli.render import render
from sftjob_cli.submit import submit
from sftjob_cli.validate import validate

COMPLETION = """Shell completion (click's own): add one line to your shell's startup file.

\b
  bash:  eval "$(_SFTJOB_COMPLETE=bash_source sftjob)"
  zsh:   eval "$(_SFTJOB_COMPLETE=zsh_source sftjob)"
  fish:  _SFTJOB_COMPLETE=fish_source sftjob | source

As a kubectl plugin (`kubectl sftjob ...`) the variable is _KUBECTL_SFTJOB_COMPLETE with
the command kubectl-sftjob."""


class Commands(click.Group):
    """The commands, with a last guard: an OSError no command expected (standard output on
    a full disk, say) is one line and exit 1, not a traceback. Standard output is flushed
    here, so that its error is seen while it can still be reported. Ctrl-C ends any command
    with 130, as a shell reports an interrupted one (click's own is "Aborted!" and 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()
        except KeyboardInterrupt:
            click.echo(err=True)
            raise SystemExit(130) from None
        except OSError as err:
            if err.errno == errno.EPIPE:
                raise  # click's own handling: a reader that went away (`| head`)
            raise click.ClickException(_one_line(err)) from None
        return result


# A write without a file name that fails for want of room: standard output's.
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


def _one_line(err: OSError) -> str:
    if err.filename is None and err.errno in _NO_ROOM:
        return f"cannot write standard output: {err.strerror}"
    return " ".join(str(err).split())


@click.group(
    cls=Commands, context_settings={"help_option_names": ["-h", "--help"]}, epilog=COMPLETION
)
@click.version_option(package_name="sftjob-operator", prog_name="sftjob")
def main() -> None:
    """Work with SFTJobs: TRL supervised fine-tuning on Kubernetes."""


main.add_command(convert)
main.add_command(validate)
main.add_command(render)
main.add_command(run)
main.add_command(submit)
main.add_command(get)
main.add_command(describe)
main.add_command(logs)
main.add_command(plot)
main.add_command(delete)
