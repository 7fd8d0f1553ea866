"""Fill .whl/ with the wheels bench/gpu/smoke.sh installs on an offline GPU machine.

The GPU machine is assumed to have torch, transformers, accelerate and peft. The wheels
are the dependency closure of trl, datasets and deepspeed (and bitsandbytes) at the
versions installed in .venv, minus what a torch+transformers machine already has.
Run here, after `make venv`, from the repository root:

    .venv/bin/python bench/gpu/make_wheels.py [--part all|1|2] [--python 3.11]

The run tool carries at most 64 MiB, and pyarrow (~49 MB) + pandas (~12 MB) +
bitsandbytes (~43 MB) do not fit together, so there are two parts for one warm machine:

    --part 1   pyarrow, pandas and their dependencies  -> smoke.sh --install-only
    --part 2   everything else, bitsandbytes included   -> smoke.sh
    --part all everything except bitsandbytes (~66 MiB: only where the machine has pandas)
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 64 * 1024 * 1024
PRESENT = {
    "torch", "transformers", "accelerate", "peft", "numpy", "packaging", "pyyaml", "tqdm",
    "requests", "filelock", "fsspec", "huggingface-hub", "safetensors", "tokenizers", "regex",
    "psutil", "jinja2", "sympy", "networkx", "typing-extensions", "setuptools", "httpx",
    "markupsafe", "mpmath", "triton",
}  # fmt: skip
# The image has these, older than our pins: the trainer calls Trainer.end() (transformers 5.24).
REPLACED = {"transformers"}
PINS = {"pyarrow": "24.0.0"}  # the smallest wheel that datasets accepts
PART1_ROOTS = ["pyarrow", "pandas"]


def _name(req: str) -> str:
    return re.split(r"[ <>=!~;\[(]", req, maxsplit=1)[0].lower().replace("_", "-")


def closure(roots: list[str], exclude: set[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen or name in exclude or name.startswith("nvidia"):
            continue
        seen.add(name)
        for req in md.distribution(name).requires or []:
            if ";" in req and "extra" in req.split(";", 1)[1]:
                continue
            stack.append(_name(req))
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["all", "1", "2"], default="all")
    parser.add_argument("--python", default=f"{sys.version_info[0]}.{sys.version_info[1]}")
    parser.add_argument("--skip", default="", help="comma-separated packages the machine has")
    parser.add_argument("--out", type=Path, default=ROOT / ".whl")
    args = parser.parse_args()

    exclude = PRESENT | {s.strip() for s in args.skip.split(",") if s.strip()}
    part1 = closure(PART1_ROOTS, exclude)
    if args.part == "1":
        names = part1
    elif args.part == "2":
        names = closure(["trl", "datasets", "deepspeed", "bitsandbytes"], exclude) - part1
        names |= REPLACED
    else:
        names = closure(["trl", "datasets", "deepspeed"], exclude) | REPLACED

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip"]
    binary = sorted(f"{n}=={PINS.get(n) or md.version(n)}" for n in names - {"deepspeed"})
    if binary:
        platforms = ["manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_24_x86_64",
                     "manylinux_2_28_x86_64"]  # fmt: skip
        cmd = [*pip, "download", "-q", "--no-deps", "--only-binary=:all:"]
        cmd += ["--python-version", args.python, "-d", str(args.out), *binary]
        for platform in platforms:
            cmd += ["--platform", platform]
        subprocess.run(cmd, check=True)
    if "deepspeed" in names:
        # DeepSpeed ships only an sdist; built with DS_BUILD_OPS=0 the wheel is pure Python.
        env = {**os.environ, "DS_BUILD_OPS": "0", "DS_SKIP_CUDA_CHECK": "1"}
        cmd = [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(args.out)]
        subprocess.run([*cmd, f"deepspeed=={md.version('deepspeed')}"], check=True, env=env)

    total = 0
    for wheel in sorted(args.out.glob("*.whl")):
        total += wheel.stat().st_size
        print(f"{wheel.stat().st_size / 2**20:7.1f} MiB  {wheel.name}")
    print(f"{total / 2**20:7.1f} MiB  total in {args.out}")
    if total > LIMIT:
        print(
            "warning: over the 64 MiB the run tool carries; use --part 1 / --part 2",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
