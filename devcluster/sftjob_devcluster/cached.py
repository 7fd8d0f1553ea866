"""Build once, reuse after: the cache discipline every Go build of the devcluster shares.

A build's outputs land in <cache>/<key>/bin, where the key changes with every input of the
build (pins, Go version, sources, recipe). The build writes into bin.partial and renames it
to bin only when it has finished, with a `.complete` stamp naming what it built; so a build
that was interrupted is redone, and a finished one is never rebuilt. A file lock lets
parallel test workers wait for one build instead of racing it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def log(msg: str) -> None:
    print(f"[devcluster build] {msg}", file=sys.stderr, flush=True)


def short_digest(*parts: str) -> str:
    """12 hex digits that change whenever any part does."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


@contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class CachedBinaries:
    """The binaries `names` of one build, kept in <root>/bin."""

    root: Path  # <cache>/<key>
    names: tuple[str, ...]

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def stamp(self) -> Path:
        return self.bin_dir / ".complete"

    def is_built(self) -> bool:
        return self.stamp.exists() and all((self.bin_dir / n).exists() for n in self.names)


# (work directory, staging bin directory, build log) -> what the `.complete` stamp records
Recipe = Callable[[Path, Path, Path], Mapping[str, object]]


def build_once(
    target: CachedBinaries,
    what: str,
    recipe: Recipe,
    *,
    sources: Path | None = None,
    force: bool = False,
) -> Path:
    """target.bin_dir, running `recipe` first unless a finished build is there.

    The recipe works in <root>/src (a fresh copy of `sources`, or an empty directory) and
    writes the binaries into the staging directory it is given.
    """
    if target.is_built() and not force:
        return target.bin_dir
    with locked(target.root.with_name(target.root.name + ".lock")):
        if target.is_built() and not force:
            return target.bin_dir
        started = time.monotonic()
        log(f"building {what} into {target.bin_dir}")
        work = target.root / "src"
        shutil.rmtree(work, ignore_errors=True)
        if sources is None:
            work.mkdir(parents=True)
        else:
            shutil.copytree(sources, work)
        staging = target.root / "bin.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        build_log = target.root / "build.log"
        build_log.write_text("")

        stamp = recipe(work, staging, build_log)

        (staging / target.stamp.name).write_text(json.dumps(stamp) + "\n")
        shutil.rmtree(target.bin_dir, ignore_errors=True)
        staging.rename(target.bin_dir)
        log(f"{what} built in {time.monotonic() - started:.0f}s: {target.bin_dir}")
    return target.bin_dir
