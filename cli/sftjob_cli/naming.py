"""The SFTJob's metadata.name: given, or derived from the recipe. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from sftjob_cli.errors import ConvertError

MAX_NAME = 40  # leaves room for the children's suffixes (-config, -output, -a<n>-<index>)
FALLBACK = "sft-job"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# File names and directories that say nothing about the run.
_GENERIC = re.compile(
    r"^(config|recipe|sft|train|run|outputs?|out|data|results?|checkpoints?)$|^config[-_]"
)


def sanitize(raw: str) -> str:
    """A DNS-1123 label of at most MAX_NAME characters; "" when nothing is left."""
    name = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    return name[:MAX_NAME].strip("-")


def check_name(name: str) -> str:
    """A name given with --name: its length is the operator's to bound (by the hostnames of
    the job's pods), which the check of the converted manifest does."""
    if not _DNS_LABEL.match(name):
        raise ConvertError(
            f"--name {name!r}: expected lower-case letters, digits and '-', starting and ending "
            "with a letter or digit"
        )
    return name


def _tail(value: Any) -> str:
    return PurePosixPath(str(value).rstrip("/")).name if value else ""


def derive_name(source: str | None, config: Mapping[str, Any]) -> str:
    """The recipe file's name, else hub_model_id, output_dir or the model's name (+ -sft),
    skipping generic names such as config_full.yaml or output/ while a better one exists."""
    candidates = [
        PurePosixPath(source).stem if source else "",
        _tail(config.get("hub_model_id")),
        _tail(config.get("output_dir")),
        f"{_tail(config.get('model_name_or_path'))}-sft"
        if config.get("model_name_or_path")
        else "",
    ]
    names = [n for n in (sanitize(c) for c in candidates) if n]
    specific = [n for n in names if not _GENERIC.match(n)]
    return (specific or names or [FALLBACK])[0]
