"""The `sftjob` command's shell: installed twice (as `sftjob` and as the kubectl plugin
`kubectl-sftjob`), with click's shell completion, documented in its help."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from sftjob_cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_the_kubectl_plugin_is_the_same_command() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["kubectl-sftjob"] == scripts["sftjob"] == "sftjob_cli.main:main"


@pytest.mark.parametrize("prog", ["sftjob", "kubectl-sftjob"])
def test_completion_of_subcommands_and_options(prog: str) -> None:
    var = f"_{prog.replace('-', '_').upper()}_COMPLETE"
    runner = CliRunner()

    def complete(words: str) -> list[str]:
        cword = len(words.split()) - (0 if words.endswith(" ") else 1)  # the word completed
        env = {var: "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        result = runner.invoke(main, [], prog_name=prog, env=env)
        assert result.exit_code == 0, result.output
        return [line.split(",", 1)[1] for line in result.output.splitlines()]

    assert {"validate", "render", "convert"} <= set(complete(f"{prog} "))
    assert "--old" in complete(f"{prog} validate --")
    assert "--output-dir" in complete(f"{prog} render --")


def test_help_says_how_to_turn_completion_on() -> None:
    out = CliRunner().invoke(main, ["--help"]).output
    assert 'eval "$(_SFTJOB_COMPLETE=bash_source sftjob)"' in out
    assert "_KUBECTL_SFTJOB_COMPLETE" in out
