#!/usr/bin/env bash
# GPU smoke test of the trainer on the local GPU, offline. Run from the repository root:
#
#   bash bench/gpu/smoke.sh [--install-only] [--only bf16_full lora ...]
#
# The machine needs torch, transformers, accelerate and peft. Packages it lacks (trl,
# datasets and its dependencies, deepspeed, bitsandbytes) are installed from the wheels
# in .whl/ when that folder exists (bench/gpu/make_wheels.py fills it; carry `.whl`);
# a wheel whose version is already installed is left out; nothing is downloaded.
# --install-only installs and exits (first of two carries, see make_wheels.py).
# Results: $OUT/smoke.json (else bench/results/smoke.json). Budget: under 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-python3}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$PWD/trainer_image:$PWD/operator${PYTHONPATH:+:$PYTHONPATH}"

source bench/gpu/install_wheels.sh
if [ "${1:-}" = "--install-only" ]; then
    exit 0
fi

"$PYTHON" - <<'PY'
import importlib.util, torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "device",
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
for m in ("transformers", "accelerate", "peft", "trl", "datasets", "deepspeed", "bitsandbytes"):
    print(f"  {m}: {'yes' if importlib.util.find_spec(m) else 'MISSING'}")
PY

exec timeout 290 "$PYTHON" bench/gpu/smoke.py "$@"
