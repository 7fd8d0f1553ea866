"""The build-once cache every devcluster Go build shares (sftjob_devcluster.cached)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sftjob_devcluster.cached import CachedBinaries, build_once, short_digest


class Recipe:
    """Writes the binaries it is asked for, counting its runs; fails when told to."""

    def __init__(self, names: tuple[str, ...], fail: bool = False) -> None:
        self.names, self.fail, self.runs = names, fail, 0
        self.seen_sources: list[str] = []

    def __call__(self, work: Path, staging: Path, log: Path) -> dict[str, object]:
        self.runs += 1
        self.seen_sources = sorted(p.name for p in work.iterdir())
        for i, name in enumerate(self.names):
            if self.fail and i == len(self.names) - 1:
                raise RuntimeError("compiler died")
            (staging / name).write_text(f"binary {name}")
        log.write_text("built")
        return {"run": self.runs}


def test_a_finished_build_is_reused_and_force_rebuilds_it(tmp_path: Path) -> None:
    target = CachedBinaries(tmp_path / "tool-abc", ("a", "b"))
    recipe = Recipe(target.names)
    assert not target.is_built()
    assert build_once(target, "tools", recipe) == target.bin_dir == tmp_path / "tool-abc/bin"
    assert target.is_built() and recipe.runs == 1
    assert json.loads(target.stamp.read_text()) == {"run": 1}
    build_once(target, "tools", recipe)
    assert recipe.runs == 1
    build_once(target, "tools", recipe, force=True)
    assert recipe.runs == 2 and json.loads(target.stamp.read_text()) == {"run": 2}
    assert (tmp_path / "tool-abc.lock").exists()


def test_an_interrupted_build_leaves_no_binaries_and_is_redone(tmp_path: Path) -> None:
    target = CachedBinaries(tmp_path / "tool-abc", ("a", "b"))
    with pytest.raises(RuntimeError, match="compiler died"):
        build_once(target, "tools", Recipe(target.names, fail=True))
    assert not target.bin_dir.exists() and not target.is_built()
    recipe = Recipe(target.names)
    build_once(target, "tools", recipe)
    assert recipe.runs == 1 and (target.bin_dir / "b").read_text() == "binary b"


def test_a_missing_binary_means_not_built(tmp_path: Path) -> None:
    target = CachedBinaries(tmp_path / "tool-abc", ("a", "b"))
    build_once(target, "tools", Recipe(target.names))
    (target.bin_dir / "a").unlink()
    recipe = Recipe(target.names)
    build_once(target, "tools", recipe)
    assert recipe.runs == 1 and target.is_built()


def test_the_recipe_works_in_a_fresh_copy_of_the_sources(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    (sources / "cmd").mkdir(parents=True)
    (sources / "main.go").write_text("package main")
    target = CachedBinaries(tmp_path / "tool-abc", ("a",))
    (target.root / "src").mkdir(parents=True)
    (target.root / "src" / "stale.go").write_text("left by an earlier build")
    recipe = Recipe(target.names)
    build_once(target, "tools", recipe, sources=sources)
    assert recipe.seen_sources == ["cmd", "main.go"]
    recipe = Recipe(target.names)
    build_once(target, "tools", recipe, force=True)
    assert recipe.seen_sources == []


def test_short_digest_changes_with_any_part() -> None:
    assert short_digest("v1", "go1.26") == short_digest("v1", "go1.26")
    assert len(short_digest("v1")) == 12
    assert short_digest("v1", "go1.26") != short_digest("v1", "go1.27")
