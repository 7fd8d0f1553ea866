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
    and a note for each variable the pod must not be given (`CUDA_VISIBLE_DEVICES`, the
    rendezvous variables), which is left out."""
    if not isinstance(env, Mapping):
        raise ConvertError(f"env: expected a mapping of variable names to values, not {env!r}")
    bad = [str(n) for n in env if not isinstance(n, str) or not _ENV_NAME.match(n)]
    if bad:
        raise ConvertError(f"env: not valid variable names: {', '.join(bad)}")
    secrets = [n for n in env if is_secret(n)]
    if secrets:
        raise ConvertError(_refusal(secrets))
    entries, notes = [], []
    for name, value in env.items():
        if reason := reserved_env_reason(name):
            notes.append(f"dropped: env {name}={value} was left out: {reason}")
        else:
            entries.append({"name": name, "value": str(value)})
    return entries, notes
