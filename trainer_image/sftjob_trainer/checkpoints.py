"""Find the newest checkpoint that was written completely.

The Trainer writes `trainer_state.json` last, after the weights, optimizer,
scheduler and RNG states (`Trainer._save_checkpoint`). A checkpoint is complete when:

- its `trainer_state.json` loads as a JSON object whose `global_step` is an integer
  equal to the step in the directory name, and
- it holds model weights: a `*.safetensors` / `*.bin` file that is not empty, a DeepSpeed
  `global_step*` directory, or the `pytorch_model_fsdp_*` directory of FSDP's sharded
  state dict.

A pod killed while writing leaves a directory that fails one of these; it is skipped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

TRAINER_STATE = "trainer_state.json"
# DeepSpeed's (global_step<N>) and FSDP's sharded state dict (pytorch_model_fsdp_<i>).
WEIGHT_DIRECTORIES = ("global_step", "pytorch_model_fsdp")
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_step(path: Path) -> int | None:
    match = _CHECKPOINT_RE.match(path.name)
    return int(match.group(1)) if match else None


def _has_weights(path: Path) -> bool:
    for child in path.iterdir():
        if child.is_file() and child.suffix in (".safetensors", ".bin") and child.stat().st_size:
            return True
        if child.is_dir() and child.name.startswith(WEIGHT_DIRECTORIES):
            return True
    return False


def is_complete_checkpoint(path: Path) -> bool:
    step = checkpoint_step(path)
    if step is None or not path.is_dir():
        return False
    try:
        state = json.loads((path / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(state, dict) or state.get("global_step") != step:
        return False
    return _has_weights(path)


def newest_complete_checkpoint(output_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step under output_dir, or None."""
    root = Path(output_dir)
    if not root.is_dir():
        return None
    candidates = [(checkpoint_step(p), p) for p in root.iterdir() if checkpoint_step(p) is not None]
    for _, path in sorted(candidates, key=lambda c: c[0] or 0, reverse=True):
        if is_complete_checkpoint(path):
            return path
    return None


def incomplete_checkpoints(output_dir: str | Path) -> list[Path]:
    """Checkpoint directories that would not be resumed from (for a log line)."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    return sorted(
        (
            p
            for p in root.iterdir()
            if checkpoint_step(p) is not None and not is_complete_checkpoint(p)
        ),
        key=lambda p: checkpoint_step(p) or 0,
    )
