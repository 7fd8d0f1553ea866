"""Where the devcluster keeps binaries and per-cluster state."""

from __future__ import annotations

import os
from pathlib import Path

GO_SOURCES = Path(__file__).resolve().parent.parent / "go"


def cache_root() -> Path:
    """$SFTJOB_DEVCLUSTER_CACHE, else $XDG_CACHE_HOME/sftjob-devcluster, else ~/.cache/..."""
    explicit = os.environ.get("SFTJOB_DEVCLUSTER_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "sftjob-devcluster"


def cluster_state_dir(name: str) -> Path:
    return cache_root() / "clusters" / name
