"""A recipe's flash-attention setting on an image without flash-attn fails before anything
loads, with the fix in the pod's termination message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sftjob_trainer.kernels import module_importable
from trainer_helpers import accelerate_config, base_config, run_trainer, write_yaml

pytestmark = pytest.mark.trainer


@pytest.mark.parametrize("processes", [None, 2], ids=["in-process", "accelerate-launch"])
def test_flash_attention_without_flash_attn_fails_before_the_model_loads(
    tiny: Any, tmp_path: Path, processes: int | None
) -> None:
    """Exit code 2 tells the operator not to restart: under accelerate launch too, whose
    elastic agent exits 1 for any failed rank."""
    if module_importable("flash_attn"):
        pytest.skip("flash-attn is installed here")
    out = tmp_path / "storage"
    cfg = base_config(tiny, out, attn_implementation="flash_attention_2")
    # A model that does not exist: had it been loaded first, that would be the error.
    cfg["model_name_or_path"] = str(tmp_path / "no-such-model")
    accelerate = (
        write_yaml(tmp_path / "accelerate.yaml", accelerate_config(1, processes))
        if processes
        else None
    )
    run = run_trainer(write_yaml(tmp_path / "trl.yaml", cfg), tmp_path, accelerate)
    assert run.returncode == 2, run.stderr[-3000:]
    reason = (tmp_path / "termination-log").read_text().strip()
    assert "attn_implementation `flash_attention_2` needs flash-attn" in reason
    assert "write `attn_implementation: sdpa`" in reason
    assert "no-such-model" not in run.stderr
    assert not out.exists()
