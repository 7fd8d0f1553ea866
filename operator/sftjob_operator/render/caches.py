"""Caches a restarted attempt should find again: on the job's storage, not in the container.

The trainer image sets HF_HOME in the container's home, which dies with the pod. The
datasets library caches there what SFTTrainer prepares (the loaded Arrow files, then each
`map`: tokenizing, truncating, packing), under a fingerprint of the data and the
preparation, so with HF_DATASETS_CACHE on the storage a restart with the same settings
loads the prepared dataset instead of tokenizing it again. The model weights stay in
HF_HOME (the Hub's cache): a restart downloads them again unless the user points HF_HOME
at a volume of their own.

A user's spec.env entry of the same name wins: its default is then not rendered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sftjob_operator.api.paths import DATASETS_CACHE
from sftjob_operator.render.env_defaults import unset_defaults

CACHE_ENV: tuple[tuple[str, str], ...] = (("HF_DATASETS_CACHE", DATASETS_CACHE),)


def cache_env(user_env: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The cache defaults, less those the user's spec.env sets itself."""
    return unset_defaults(CACHE_ENV, user_env)
