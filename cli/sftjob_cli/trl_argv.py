"""Parse a `trl sft ...` command line (or one of TRL's sft.py script) as TrlParser does. Pure.

`--config FILE` names the YAML recipe; every other `--key value`, `--key=value` or bare
boolean `--flag` overrides it (the command line wins). List fields take several values
(`--lora_target_modules q_proj v_proj`), as HfArgumentParser's nargs="+". `--no_<flag>` sets
a boolean to false, and `--some-name` is `--some_name`, as in HfArgumentParser.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sftjob_cli import shellvars
from sftjob_cli.errors import ConvertError
from sftjob_cli.values import coerce

KindOf = Callable[[str], str | None]
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)


class NotACommand(ConvertError):
    """Tokens that are no `trl sft` line nor a line of TRL's sft.py script."""


@dataclass(frozen=True)
class TrlCommand:
    config: str | None = None  # the --config file, as written
    overrides: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # VAR=value before the command
    script: str | None = None  # the TRL script it runs (sft.py, sft_vlm.py); None: `trl sft`
    notes: tuple[str, ...] = ()  # what of the line was left out


# TRL's scripts read with the parser of `trl sft` (ScriptArguments, SFTConfig, ModelConfig),
# and what each sets in its code over the command line, with why.
SCRIPTS: dict[str, dict[str, tuple[Any, str]]] = {
    "sft.py": {},
    # examples/scripts/sft_vlm.py, the vision-language script
    "sft_vlm.py": {
        "max_length": (None, "TRL's sft_vlm.py sets it: whole sequences, so no image token is cut")
    },
}
_RUNNERS = (["python"], ["python3"], ["uv", "run"])


def split_command(tokens: Sequence[str]) -> tuple[dict[str, str], list[str], str | None]:
    """(leading VAR=value assignments, the arguments after `trl sft` or the script, the
    script's name)."""
    env: dict[str, str] = {}
    rest = list(tokens)
    while rest and (match := _ASSIGNMENT.match(rest[0])):
        env[match.group(1)] = match.group(2)
        rest.pop(0)
    if rest[:2] == ["trl", "sft"]:
        return env, rest[2:], None
    found = _script_args(rest)
    if found is None:
        other = next((t for t in rest if t.endswith(".py")), None)
        shown = repr(other) if other else repr(" ".join(rest[:2]) or "nothing")
        raise NotACommand(
            f"expected a `trl sft ...` command line (or TRL's scripts sft.py and sft_vlm.py: "
            f"`python trl/scripts/sft.py ...`, `accelerate launch [flags] "
            f"examples/scripts/sft_vlm.py ...`), got {shown}"
        )
    return env, *found


def _script_args(tokens: Sequence[str]) -> tuple[list[str], str] | None:
    """The arguments of TRL's own sft.py or sft_vlm.py as its docs run it (the same parser as
    `trl sft`), and the script's name: after `python`/`python3`/`uv run`, or `accelerate
    launch`, whose flags before the script are the launch side (as `trl sft` passes them
    on). A YAML file first after the script is its config, as the alignment-handbook's
    scripts read it."""
    at = next((i for i, t in enumerate(tokens) if t.rsplit("/", 1)[-1] in SCRIPTS), None)
    if at is None:
        return None
    head, args = list(tokens[:at]), list(tokens[at + 1 :])
    name = tokens[at].rsplit("/", 1)[-1]
    if args and args[0].endswith((".yaml", ".yml")) and not args[0].startswith("-"):
        args = ["--config", *args]
    if head in _RUNNERS:
        return args, name
    if head[:2] == ["accelerate", "launch"]:
        return [_LAUNCH_SHORT_FLAGS.get(t, t) for t in head[2:]] + args, name
    return None


# accelerate launch's short flags, by their long names (which the launch side is read by).
_LAUNCH_SHORT_FLAGS = {"-q": "--quiet", "-t": "--tee"}


# As argparse reads a command line: a token that starts with `-` is an option, unless it is
# a negative number (newer Pythons' argparse also takes `-1e-5` as one).
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _is_option(token: str) -> bool:
    # argparse takes a token with a space for a value (`--chat_template '- {{ x }}'`)
    return (
        token.startswith("-")
        and token != "-"
        and " " not in token
        and not _NEGATIVE_NUMBER.match(token)
    )


def _flag_values(args: Sequence[str], start: int) -> int:
    """The index after the values of the flag at `start`: up to the next option, as argparse
    reads them (`-x` ends the values too, and is then refused as a flag TRL does not take)."""
    end = start + 1
    while end < len(args) and not _is_option(args[end]):
        end += 1
    return end


def _negated(key: str, kind_of: KindOf) -> str | None:
    if key.startswith("no_") and kind_of(key) is None and kind_of(key[3:]) == "bool":
        return key[3:]
    return None


def parse_args(args: Sequence[str], kind_of: KindOf) -> TrlCommand:
    """The arguments after `trl sft`."""
    config: str | None = None
    overrides: dict[str, Any] = {}
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--") or token == "--":
            raise ConvertError(f"unexpected argument {token!r}: `trl sft` takes only --flags")
        name, eq, inline = token[2:].partition("=")
        key = name.replace("-", "_")
        end = i + 1 if eq else _flag_values(args, i)
        values = [inline] if eq else list(args[i + 1 : end])
        i = end
        if key == "config":
            if len(values) != 1:
                raise ConvertError("--config: expected one file name")
            config = values[0]
        elif (positive := _negated(key, kind_of)) is not None:
            if values:
                raise ConvertError(f"--{name} takes no value")
            overrides[positive] = False
        else:
            overrides[key] = coerce(f"--{name}", kind_of(key), values)
    return TrlCommand(config, overrides)


# Where the shell ends one command: a pipe, a redirection, the next command.
_SHELL_OPERATORS = frozenset({"|", "||", "&&", ";", "&", "|&"})
# `>log`, `2>&1`, `&> log`, a bare `<`; not a value that starts with `<` (`<|im_end|>`)
_REDIRECTION = re.compile(r"^(\d?>>?|&>|\d?>&\d|<)($|(?<!<)\S)")


def cut_at_shell_operator(tokens: Sequence[str]) -> tuple[list[str], tuple[str, ...]]:
    """The command before the first pipe, redirection or next command, and a note for what
    follows (`| tee train.log`, `> log 2>&1`): the shell's, not the job's."""
    tokens = list(tokens)
    at = next(
        (i for i, t in enumerate(tokens) if t in _SHELL_OPERATORS or _REDIRECTION.match(t)),
        None,
    )
    ended = next((i for i, t in enumerate(tokens) if len(t) > 1 and t.endswith(";")), None)
    if ended is not None and (at is None or ended < at):  # `--output_dir out; echo done`
        tokens = [*tokens[:ended], tokens[ended][:-1], ";", *tokens[ended + 1 :]]
        at = ended + 1
    if at is None:
        return tokens, ()
    rest = " ".join(tokens[at:])
    return list(tokens[:at]), (
        f"dropped: `{rest}` after the command: the shell's, not the job's (each pod's log is "
        "kept by Kubernetes: sftjob logs)",
    )


def parse_command(tokens: Sequence[str], kind_of: KindOf) -> TrlCommand:
    command, notes = cut_at_shell_operator(tokens)
    env, args, script = split_command(command)
    parsed = parse_args(args, kind_of)
    return TrlCommand(parsed.config, parsed.overrides, env, script, notes)


def _join_continuations(text: str) -> str:
    return re.sub(r"\\\r?\n", " ", text)


def _logical_lines(text: str) -> list[str]:
    joined = _join_continuations(text)
    return [line.strip() for line in joined.splitlines() if line.strip()]


def split_line(text: str) -> list[str]:
    """A whole command line given as one string (maybe pasted with `\\` continuations),
    split as the shell would."""
    try:
        return shlex.split(_join_continuations(text))
    except ValueError as err:
        raise ConvertError(f"cannot split the command line: {err}; check its quotes") from None


def _assignments(tokens: Sequence[str]) -> dict[str, str] | None:
    """`A=1 B=2` alone on a line (shell variables, not exported) as {A: 1, B: 2}; None for
    any other line."""
    matches = [_ASSIGNMENT.match(t) for t in tokens]
    if not all(matches):
        return None
    return {m.group(1): m.group(2) for m in matches if m}


def _exports(tokens: Sequence[str], shell: dict[str, str]) -> dict[str, str] | None:
    """`export A=1 B` as {A: 1, B: <B's value on an earlier line>}; None for any other line."""
    if tokens[0] != "export":
        return None
    exported: dict[str, str] = {}
    for token in tokens[1:]:
        if match := _ASSIGNMENT.match(token):
            exported[match.group(1)] = match.group(2)
        elif token in shell:
            exported[token] = shell[token]
        else:
            raise ConvertError(
                f"export {token}: the file gives {token} no value; write `export {token}=...`"
            )
    return exported


# Lines of a script that change nothing in the job: the shell's own options.
_SHELL_OPTIONS = frozenset({"set", "shopt"})


def parse_script(text: str, kind_of: KindOf) -> TrlCommand:
    """A file that holds one `trl sft ...` command line, maybe after `export VAR=value` and
    `VAR=value` lines (the first become spec.env, both expand `$VAR`), `set -e` lines and
    comments (a .sh script or a .txt copy of a README's command)."""
    exported: dict[str, str] = {}
    shell: dict[str, str] = {}
    commands: list[TrlCommand] = []
    for line in _logical_lines(text):
        expanded = shellvars.expand(line, {**shell, **exported})
        try:
            tokens = shlex.split(expanded, comments=True)
        except ValueError as err:
            raise ConvertError(f"cannot split the line {line[:60]!r}: {err}") from None
        if not tokens or tokens[0] in _SHELL_OPTIONS:
            continue
        if (assigned := _assignments(tokens)) is not None:
            shell.update(assigned)
            continue
        if (names := _exports(tokens, shell)) is not None:
            exported.update(names)
            continue
        try:
            commands.append(parse_command(tokens, kind_of))
        except NotACommand as err:
            raise NotACommand(
                f"the line {line[:60]!r}: {err}; a script holds `export NAME=value` and "
                "`NAME=value` lines, comments and one `trl sft ...` line"
            ) from None
    if len(commands) != 1:
        raise ConvertError(f"expected one `trl sft ...` command line, found {len(commands)}")
    (command,) = commands
    env = {**exported, **command.env}
    return dataclasses.replace(command, env=env)
