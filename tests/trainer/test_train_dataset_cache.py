"""A restarted attempt loads the prepared dataset from the job's storage instead of
tokenizing and packing it again: the datasets cache is where the operator renders it
(HF_DATASETS_CACHE on the storage), and its fingerprints hold across processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sftjob_operator.api.paths import DATASETS_CACHE, STORAGE_MOUNT

from tests.trainer.trainer_helpers import base_config, run_trainer, write_yaml

pytestmark = pytest.mark.trainer


def arrow_files(cache: Path) -> dict[str, int]:
    """Each Arrow file of the cache and when it was written."""
    return {str(p.relative_to(cache)): p.stat().st_mtime_ns for p in cache.rglob("*.arrow")}


def test_a_second_attempt_reuses_the_prepared_dataset(tiny: Any, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    cache = Path(DATASETS_CACHE.replace(STORAGE_MOUNT, str(storage), 1))
    config = write_yaml(
        tmp_path / "trl.yaml",
        base_config(tiny, storage / "out", max_steps=2, packing=True),
    )
    first = run_trainer(config, tmp_path / "a1", HF_DATASETS_CACHE=str(cache))
    assert first.returncode == 0, first.stderr[-3000:]
    prepared = arrow_files(cache)
    # The loaded JSON plus SFTTrainer's maps (EOS, tokenizing, packing...), all on the storage.
    assert len([f for f in prepared if "/cache-" in f]) >= 2, prepared

    second = run_trainer(config, tmp_path / "a2", HF_DATASETS_CACHE=str(cache))
    assert second.returncode == 0, second.stderr[-3000:]
    assert arrow_files(cache) == prepared  # nothing prepared or written again
