#!/usr/bin/env bash
# GPU throughput benchmark (bench/gpu/throughput.py) on the local GPU, offline, in one call.
# Here, first:  .venv/bin/python bench/gpu/make_wheels.py --part throughput --python 3.12
# Then on the GPU machine, from the repository root, carrying `.whl`:
#
#   bash bench/gpu/throughput.sh [--shapes 1.5b 0.5b] [--only trl_sft sftjob_train ...]
#
# The pinned trl, datasets, transformers, peft, tokenizers, liger-kernel and pyarrow come
# from .whl/; torch (and triton) are the machine's (see make_wheels.py). Results:
# $OUT/gpu_throughput.json (else under /tmp/sftjob-gpu-throughput), plus the scenario logs in
# $OUT/logs.tar.gz. Keep the report as bench/results/gpu_throughput/<date>-<lease><n>-<what>.json,
# list it in runs.json there, and run bench/gpu/throughput_report.py for the summary.
# Budget: about 7 minutes (BUDGET_S=360 s; no scenario starts with under 60 s of it left);
# give the device call timeout_s 480, which leaves a 15-minute device budget room for one
# more, shorter try (BUDGET_S=300 bash bench/gpu/throughput.sh ...).
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-python3}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD/trainer_image:$PWD/operator:$PWD/cli${PYTHONPATH:+:$PYTHONPATH}"

source bench/gpu/install_wheels.sh

"$PYTHON" - <<'PY'
import importlib.metadata as md, torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "device",
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
for m in ("transformers", "trl", "peft", "accelerate", "datasets", "tokenizers", "pyarrow",
          "liger-kernel", "flash-attn", "triton"):
    try:
        print(f"  {m}: {md.version(m)}")
    except md.PackageNotFoundError:
        print(f"  {m}: MISSING")
import datasets, trl  # fail here, in seconds, if the carried stack does not import
PY

WORK=/tmp/sftjob-gpu-throughput
code=0
BUDGET_S="${BUDGET_S:-360}"
timeout "$((BUDGET_S + 60))" "$PYTHON" bench/gpu/throughput.py --budget-s "$BUDGET_S" \
    --work "$WORK" "$@" || code=$?
if [ -n "${OUT:-}" ]; then
    # The trainers' logs, without the models and datasets.
    tar -czf "$OUT/logs.tar.gz" -C "$WORK" --exclude='model' --exclude='data' \
        --exclude='output' . 2>/dev/null || true
fi
exit "$code"
