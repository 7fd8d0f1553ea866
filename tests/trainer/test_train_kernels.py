"""A recipe's flash-attention or Liger setting where it cannot run (this CPU machine, an
image without flash-attn) fails before anything loads, with the fix in the pod's
termination message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sftjob_trainer.kernels import gpu_available, module_importable
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
    # Without a GPU, that is said first.
    problem = "needs flash-attn" if gpu_available() else "cannot train without a GPU"
    assert f"attn_implementation `flash_attention_2` {problem}" in reason
    assert "write `attn_implementation: sdpa`" in reason
    assert "no-such-model" not in run.stderr
    assert not out.exists()


def test_liger_on_a_machine_without_a_gpu_fails_before_the_model_loads(
    tiny: Any, tmp_path: Path
) -> None:
    """Liger's Triton kernels would fail at the first step with "0 active drivers", a
    traceback the operator would restart four times."""
    if gpu_available():
        pytest.skip("this machine has a GPU")
    out = tmp_path / "storage"
    cfg = base_config(tiny, out, use_liger_kernel=True)
    cfg["model_name_or_path"] = str(tmp_path / "no-such-model")
    run = run_trainer(write_yaml(tmp_path / "trl.yaml", cfg), tmp_path, None)
    assert run.returncode == 2, run.stderr[-3000:]
    reason = (tmp_path / "termination-log").read_text().strip()
    assert "use_liger_kernel is true but there is no GPU here" in reason
    assert "write `use_liger_kernel: false`" in reason
    assert "no-such-model" not in run.stderr and not out.exists()
