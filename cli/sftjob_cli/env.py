"""The `env` of a `trl sft` config (TrlParser exports it) as spec.env, without secrets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sftjob_operator.api.secret_env import HUB_TOKEN_ENV_NAMES, SECRET_ENV_NAMES
from sftjob_operator.render.job import reserved_env_reason

from sftjob_cli.errors import ConvertError

# and the misspelling huggingface_hub never read, which a recipe may still carry
_HUB_TOKENS = frozenset({*HUB_TOKEN_ENV_NAMES, "HUGGINGFACE_HUB_TOKEN"})
_SECRET_WORDS = frozenset({"TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIALS", "APIKEY"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def is_secret(name: str) -> bool:
    """The operator's list (the admission policy refuses them inline), and any other name that
    looks like a credential: *_TOKEN, *_SECRET*, *_PASSWORD, *_KEY (not TOKENIZERS_PARALLELISM)."""
    words = name.upper().split("_")
    return (
        name.upper() in SECRET_ENV_NAMES
        or bool(_SECRET_WORDS.intersection(words))
        or words[-1] == "KEY"
    )


def _refusal(names: list[str]) -> str:
    hub = [n for n in names if n.upper() in _HUB_TOKENS]
    hint = (
        "; for the Hub token, spec.hubTokenSecretRef: {name: <secret>, key: token} does this"
        if hub
        else ""
    )
    return (
        f"env {', '.join(names)}: a secret written in an SFTJob is readable by everyone who can "
        "read the SFTJob. Put it in a Secret and add it under spec.env with valueFrom: "
        f"{{secretKeyRef: {{name: <secret>, key: <key>}}}}{hint}"
    )


def env_list(env: Any) -> tuple[list[dict[str, str]], list[str]]:
    """spec.env entries for a mapping of variables (values become strings, as TrlParser does),
    and a note for each variable the operator sets itself (the rendezvous), which is left
    out. GPU choices wait for the job's GPU count: `without_reserved`."""
    if not isinstance(env, Mapping):
        raise ConvertError(f"env: expected a mapping of variable names to values, not {env!r}")
    bad = [str(n) for n in env if not isinstance(n, str) or not _ENV_NAME.match(n)]
    if bad:
        raise ConvertError(f"env: not valid variable names: {', '.join(bad)}")
    secrets = [n for n in env if is_secret(n)]
    if secrets:
        raise ConvertError(_refusal(secrets))
    return without_reserved([{"name": name, "value": str(value)} for name, value in env.items()], 0)


def without_reserved(
    entries: list[dict[str, str]], gpus_per_node: int
) -> tuple[list[dict[str, str]], list[str]]:
    """The entries the operator takes in a job of `gpus_per_node` GPUs, and a note for each
    one left out (`CUDA_VISIBLE_DEVICES` of a GPU job, the rendezvous variables)."""
    kept, notes = [], []
    for entry in entries:
        if reason := reserved_env_reason(entry["name"], gpus_per_node):
            notes.append(f"dropped: env {entry['name']}={entry['value']} was left out: {reason}")
        else:
            kept.append(entry)
    return kept, notes
