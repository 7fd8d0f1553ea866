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

    --part throughput   what bench/gpu/throughput.sh needs, in one carry (~47 MiB): the
                        pinned trl, datasets, transformers, peft, tokenizers and liger-kernel
                        (pyproject's pin; not needed in .venv), datasets' own dependencies,
                        and pyarrow 24 (datasets 5.2 needs >= 24; the machine's may be older)
                        as an xz tarball of the unpacked wheel (27 MiB instead of 47)

torch cannot travel: its wheel and CUDA libraries are over 1 GiB, so the GPU runs use the
machine's torch (and triton); every report records the versions that ran.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
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
# The throughput run: the training stack at our pins (the machine's transformers, peft and
# tokenizers are older) and liger-kernel; pyarrow travels compressed (see --part throughput).
THROUGHPUT_ROOTS = ["trl", "datasets"]
THROUGHPUT_PINNED = {"transformers", "peft", "tokenizers", "liger-kernel"}
COMPRESSED = {"pyarrow"}


def trainer_pins() -> dict[str, str]:
    """pyproject.toml's [trainer] extra: name -> version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for req in project["optional-dependencies"]["trainer"]:
        name, sep, version = req.partition("==")
        if sep:
            pins[name.strip().lower()] = version.strip()
    return pins


def version(name: str) -> str:
    """The pin we carry: PINS, else pyproject's [trainer] pin, else the version in .venv."""
    return PINS.get(name) or trainer_pins().get(name) or md.version(name)


def compress_wheels(out: Path, names: set[str]) -> None:
    """Replace each named wheel by an xz tarball of its contents (what pip would unpack
    into site-packages); throughput.sh unpacks it beside the installed wheels."""
    for wheel in sorted(out.glob("*.whl")):
        if _name(wheel.name.split("-")[0]) not in names:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            zipfile.ZipFile(wheel).extractall(tmp)
            target = out / (wheel.name.removesuffix(".whl") + ".tar.xz")
            with tarfile.open(target, "w:xz", preset=9) as tar:
                tar.add(tmp, arcname=".")
        wheel.unlink()


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
    parser.add_argument("--part", choices=["all", "1", "2", "throughput"], default="all")
    parser.add_argument("--python", default=f"{sys.version_info[0]}.{sys.version_info[1]}")
    parser.add_argument("--skip", default="", help="comma-separated packages the machine has")
    parser.add_argument("--out", type=Path, default=ROOT / ".whl")
    args = parser.parse_args()

    exclude = PRESENT | {s.strip() for s in args.skip.split(",") if s.strip()}
    part1 = closure(PART1_ROOTS, exclude)
    if args.part == "throughput":
        names = closure(THROUGHPUT_ROOTS, exclude | {"pandas"}) | THROUGHPUT_PINNED
    elif args.part == "1":
        names = part1
    elif args.part == "2":
        names = closure(["trl", "datasets", "deepspeed", "bitsandbytes"], exclude) - part1
        names |= REPLACED
    else:
        names = closure(["trl", "datasets", "deepspeed"], exclude) | REPLACED

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip"]
    binary = sorted(f"{n}=={version(n)}" for n in names - {"deepspeed"})
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

    if args.part == "throughput":
        compress_wheels(args.out, COMPRESSED)

    total = 0
    for wheel in sorted([*args.out.glob("*.whl"), *args.out.glob("*.tar.xz")]):
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
