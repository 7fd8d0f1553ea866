"""Read a recipe from where the user has it: a YAML file, a file holding a `trl sft` command
line, or the command line itself after `--`. The only module of the CLI that reads files."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sftjob_cli.catalog import ENV_KEY
from sftjob_cli.errors import ConvertError
from sftjob_cli.trl_argv import (
    SCRIPTS,
    KindOf,
    NotACommand,
    TrlCommand,
    parse_command,
    parse_script,
    split_line,
)
from sftjob_cli.yamlread import UniqueKeyLoader, YamlRefused, load

# Files read as a `trl sft ...` command line rather than as a YAML recipe.
COMMAND_SUFFIXES = (".sh", ".bash", ".txt", ".cmd")


@dataclass(frozen=True)
class Recipe:
    """A flat `trl sft` config (the --config file with the command line's overrides)."""

    config: dict[str, Any]
    source: str | None = None  # the file the job is named after
    base_dir: Path | None = None  # where relative paths of a command file resolve
    notes: tuple[str, ...] = ()  # what the script run sets over the recipe

    def read_accelerate(self, name: str) -> Any:
        """An accelerate config file named by the recipe (or another YAML or JSON file)."""
        return read_yaml(_locate(name, self.base_dir))

    def read_local_text(self, name: str) -> str | None:
        """A text file named by the recipe, None when there is no such file here (the name
        may be a Hub repository's)."""
        path = _locate(name, self.base_dir)
        return read_text(path) if path.is_file() else None


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConvertError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConvertError(f"{path}: is a directory; name a recipe file in it") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConvertError(f"{path}: cannot be read: {err}") from None


def read_yaml(path: Path) -> Any:
    """As TRL reads it (yaml.safe_load), but a key written twice is refused, not dropped."""
    return parse_yaml(read_text(path), str(path))


def parse_yaml(text: str, where: str) -> Any:
    """The one document of `text` (None when empty), or ConvertError naming `where`."""
    try:
        docs = load(text, UniqueKeyLoader, single=True)
    except YamlRefused as err:
        raise ConvertError(f"{where}: {err}") from None
    return docs[0] if docs else None


def read_mapping(path: Path) -> dict[str, Any]:
    return as_mapping(read_yaml(path), str(path))


def as_mapping(data: Any, where: str) -> dict[str, Any]:
    """A recipe's YAML as the flat mapping of TRL fields it must be."""
    if not isinstance(data, Mapping):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ConvertError(f"{where}: expected a YAML mapping of TRL fields, got {got}")
    if "apiVersion" in data and "kind" in data:
        raise ConvertError(f"{where}: this is already a Kubernetes manifest ({data['kind']})")
    return dict(data)


def _locate(name: str, base_dir: Path | None) -> Path:
    """A path as written (relative to the working directory), else beside the command file."""
    path = Path(name)
    if path.is_absolute() or path.exists() or base_dir is None:
        return path
    beside = base_dir / path
    return beside if beside.exists() else path


def _from_command(command: TrlCommand, source: str | None, base_dir: Path | None) -> Recipe:
    config: dict[str, Any] = {}
    if command.config is not None:
        config = read_mapping(_locate(command.config, base_dir))
    env = config.get(ENV_KEY, {})
    if command.env:
        env = {**env, **command.env} if isinstance(env, Mapping) else env
    config = {**config, **command.overrides}
    if env:
        config[ENV_KEY] = env
    config, notes = script_settings(config, command.script)
    notes = (*command.notes, *notes)
    return Recipe(config, source=source or command.config, base_dir=base_dir, notes=notes)


def script_settings(
    config: Mapping[str, Any], script: str | None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The recipe as the script runs it: what the script sets in its code wins."""
    out = dict(config)
    notes = []
    for key, (value, why) in SCRIPTS.get(script or "", {}).items():
        if key in out and out[key] != value:
            notes.append(f"translated: {key}: {out[key]} -> {value} ({why})")
        elif key not in out:
            notes.append(f"set: {key}: {value} ({why})")
        out[key] = value
    return out, tuple(notes)


def recipe_from_file(name: str, kind_of: KindOf) -> Recipe:
    path = Path(name)
    if path.suffix in COMMAND_SUFFIXES:
        command = parse_script(read_text(path), kind_of)
        return _from_command(command, name, path.parent)
    return Recipe(read_mapping(path), source=name, base_dir=path.parent)


def recipe_from_argv(tokens: Sequence[str], kind_of: KindOf) -> Recipe:
    return _from_command(parse_command(tokens, kind_of), None, None)


# The first word of a command line convert reads, given alone (`sftjob convert trl`).
_COMMANDS = frozenset({"trl", "accelerate", "python", "python3", "uv"})


def recipe_from_stdin() -> Recipe:
    """`-`: a YAML recipe on standard input (`cat recipe.yaml | sftjob convert -`)."""
    try:
        text = sys.stdin.read()
    except (OSError, UnicodeDecodeError) as err:
        raise ConvertError(f"-: standard input cannot be read: {err}") from None
    return Recipe(as_mapping(parse_yaml(text, "-"), "-"), source=None)


def recipe_from_argument(text: str, kind_of: KindOf) -> Recipe:
    """The one argument of `convert`: a file, or (no file has that name and it holds
    whitespace) a whole command line, read as the arguments after `--` are."""
    if not text.strip():
        raise ConvertError(
            "the recipe argument is empty: name a recipe file (RECIPE.yaml, or a .sh/.txt "
            "with a `trl sft` line), or give the command line after `--` "
            "(sftjob convert -- trl sft --config recipe.yaml ...)"
        )
    if text == "-":
        return recipe_from_stdin()
    if text in _COMMANDS and not Path(text).exists():
        raise ConvertError(
            f"{text!r}: no such file, and one word is no command line; give the command line "
            "after `--` (sftjob convert -- trl sft --config recipe.yaml ...)"
        )
    if Path(text).exists() or not any(ch.isspace() for ch in text):
        return recipe_from_file(text, kind_of)
    tokens = split_line(text)
    try:
        return recipe_from_argv(tokens, kind_of)
    except NotACommand as err:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ConvertError(
            f"{shown!r} names no file, and is not a command line convert reads: {err}; "
            "name a recipe file, or give the command line after `--` "
            "(sftjob convert -- <command line>)"
        ) from None
