"""GPU scenario for vision-language SFT: a random-weight LLaVA through the pods' entrypoint.

    python bench/gpu/vlm.py [--shape 1b|tiny] [--steps N] [--out DIR]

Builds a LLaVA-shaped model from configs (no download): `1b` is a CLIP ViT-L/14-336 vision
tower (304M) with a Qwen2-0.5B-shaped language model, about 0.7B parameters in all; `tiny`
is the test fixture's shape, for checking the script on CPU. Generated images (336 px for
`1b`) with conversations in TRL's format; then `python -m sftjob_trainer` trains with the
settings of examples/llava-vlm.yaml (bf16, gradient checkpointing, no packing,
max_length: null) and reports steady tokens/s, an MFU estimate (6 x parameters x tokens/s
over the GPU's bf16 peak) and the wall time. Without a GPU it runs on CPU (`tiny` only makes
sense there). Writes vlm.json to --out (default: $OUT or bench/results).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "trainer_image"), str(Path(__file__).resolve().parent)]

from sftjob_trainer.tinyvlm import (  # noqa: E402
    TINY,
    VlmShape,
    build_model,
    build_processor,
    write_dataset,
)
from smoke import QWEN2_05B, peak_flops, pod_env  # noqa: E402

SHAPES = {
    "tiny": TINY,
    "1b": VlmShape(
        image_size=336,
        patch_size=14,
        vision_hidden=1024,
        vision_layers=24,
        vision_heads=16,
        # The language model of the smoke test: Qwen2-0.5B's shape.
        text_hidden=QWEN2_05B["hidden_size"],
        text_intermediate=QWEN2_05B["intermediate_size"],
        text_layers=QWEN2_05B["num_hidden_layers"],
        text_heads=QWEN2_05B["num_attention_heads"],
        text_kv_heads=QWEN2_05B["num_key_value_heads"],
    ),
}


def prepare(work: Path, shape: VlmShape, rows: int) -> tuple[Path, Path, int]:
    processor = build_processor(shape)
    model = build_model(processor, shape=shape)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(work / "model")
    processor.save_pretrained(work / "model")
    data = write_dataset(work / "data", rows_count=rows, image_size=shape.image_size)
    return work / "model", data, params


def trl_config(model: Path, data: Path, out: Path, steps: int, gpu: bool) -> dict[str, Any]:
    return {
        "model_name_or_path": str(model),
        "datasets": [{"path": "json", "data_files": str(data / "train.jsonl"), "split": "train"}],
        "output_dir": str(out),
        "max_steps": steps,
        "per_device_train_batch_size": 8 if gpu else 2,
        "learning_rate": 2e-5,
        "logging_steps": 1,
        "save_strategy": "no",
        "max_length": None,
        "packing": False,
        "bf16": gpu,
        "use_cpu": not gpu,
        "gradient_checkpointing": gpu,
        "gradient_checkpointing_kwargs": {"use_reentrant": False},
        "report_to": "none",
        "dataloader_num_workers": 2 if gpu else 0,
        "disable_tqdm": True,
    }


def run(work: Path, config: dict[str, Any]) -> dict[str, Any]:
    trl_yaml = work / "trl.yaml"
    trl_yaml.write_text(yaml.safe_dump(config))
    progress = work / "progress.jsonl"
    env = pod_env(work, progress)
    start = time.perf_counter()
    with (work / "stdout.log").open("w") as out, (work / "stderr.log").open("w") as err:
        code = subprocess.run(
            [sys.executable, "-m", "sftjob_trainer", "--config", str(trl_yaml)],
            env=env,
            stdout=out,
            stderr=err,
            timeout=420,
        ).returncode
    records = (
        [json.loads(x) for x in progress.read_text().splitlines()] if progress.exists() else []
    )
    steady = [r["tokens_per_second"] for r in records[3:] if r.get("tokens_per_second")]
    result: dict[str, Any] = {"exit_code": code, "wall_s": round(time.perf_counter() - start, 1)}
    if code != 0 or not records or not records[-1].get("final"):
        result["stderr_tail"] = (work / "stderr.log").read_text()[-2000:]
        return result
    result.update(
        steps=records[-1]["step"],
        loss=records[-1]["loss"],
        tokens_per_s_steady=round(sorted(steady)[len(steady) // 2], 1) if steady else None,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="1b")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument(
        "--out", type=Path, default=Path(os.environ.get("OUT", ROOT / "bench" / "results"))
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/sftjob-vlm-bench"))
    args = parser.parse_args()
    import torch

    gpu = torch.cuda.is_available()
    args.work.mkdir(parents=True, exist_ok=True)
    shape = SHAPES[args.shape]
    model, data, params = prepare(args.work, shape, rows=64 * max(args.steps, 4))
    result = run(args.work, trl_config(model, data, args.work / "out", args.steps, gpu))
    device, peak = peak_flops() if gpu else ("cpu", None)
    tokens = result.get("tokens_per_s_steady")
    report = {
        "benchmark": "gpu_vlm",
        "device": device,
        "shape": args.shape,
        "parameters": params,
        "torch": torch.__version__,
        **result,
        "mfu": round(6 * params * tokens / peak, 4) if tokens and peak else None,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "vlm.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0 if result["exit_code"] == 0 and "steps" in result else 1


if __name__ == "__main__":
    sys.exit(main())
