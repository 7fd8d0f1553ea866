"""Build (or reuse) the control-plane binaries from Go modules.

Two wrapper modules live under devcluster/go/:
  k8s/   kube-apiserver, kube-controller-manager, kube-scheduler and etcd, in
         one module and one `go build`, so shared packages compile once.
  kwok/  kwok, whose dependency versions differ from Kubernetes's own.
Their go.mod files are generated here (see gomod.py), in a work directory
under the cache, and the binaries land in <cache>/<key>/bin, where the key
changes with every version pin, the Go version and the wrapper sources.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from . import gomod
from .cached import CachedBinaries, build_once
from .cached import log as _log
from .paths import GO_SOURCES, cache_root
from .versions import Versions, major_minor

K8S_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
KWOK_BINARIES = ("kwok",)
BINARIES = K8S_BINARIES + KWOK_BINARIES
WRAPPER_MODULE = "sftjob.dev/devcluster"


class BuildError(RuntimeError):
    pass


def k8s_ldflags(kubernetes: str, build_date: str) -> str:
    """Linker flags that make /version report the real release (as hack/lib/version.sh does)."""
    major, minor = major_minor(kubernetes)
    values = {
        "gitVersion": kubernetes,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": build_date,
    }
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.{key}={value}" for key, value in values.items()]
    return " ".join(flags)


def sources_digest(directory: Path = GO_SOURCES) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(directory)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    env["GOTOOLCHAIN"] = "local"
    env.setdefault("GOFLAGS", "-buildvcs=false")
    return env


def go_version() -> str:
    if shutil.which("go") is None:
        raise BuildError(
            "the 'go' command was not found on PATH: install Go >= 1.26 "
            "(https://go.dev/dl) to build the devcluster binaries"
        )
    out = subprocess.run(
        ["go", "env", "GOVERSION"], check=True, capture_output=True, text=True, env=go_env()
    )
    return out.stdout.strip()


def _run(args: Sequence[str], cwd: Path, log: Path, what: str, progress: bool = False) -> None:
    """Run a go command, logging to `log`; with progress, report compiled package counts."""
    _log(f"{what}: {' '.join(args[:3])} ... (log: {log})")
    start = time.monotonic()
    with log.open("a") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        proc = subprocess.Popen(
            list(args), cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=go_env()
        )
        done = threading.Event()

        def report() -> None:
            base = log.stat().st_size
            while not done.wait(20):
                with log.open("rb") as fh:
                    fh.seek(base)
                    count = fh.read().count(b"\n")
                _log(f"{what}: {count} packages compiled, {time.monotonic() - start:.0f}s elapsed")

        thread = threading.Thread(target=report, daemon=True) if progress else None
        if thread:
            thread.start()
        code = proc.wait()
        done.set()
    if code != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:])
        raise BuildError(f"{what} failed (exit {code}); full log: {log}\n{tail}")
    _log(f"{what}: done in {time.monotonic() - start:.0f}s")


def _download_json(module_at_version: str, cwd: Path, log: Path) -> dict[str, str]:
    proc = subprocess.run(
        ["go", "mod", "download", "-json", module_at_version],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=go_env(),
    )
    with log.open("a") as out:
        out.write(proc.stdout + proc.stderr)
    info: dict[str, str] = json.loads(proc.stdout) if proc.stdout.strip() else {}
    if proc.returncode != 0 or "Error" in info:
        raise BuildError(
            f"the Go module proxy did not serve {module_at_version}: "
            f"{info.get('Error') or proc.stderr.strip()} (log: {log})"
        )
    return info


def prepare_k8s_module(versions: Versions, work: Path, log: Path) -> None:
    info = _download_json(f"k8s.io/kubernetes@{versions.kubernetes}", work, log)
    upstream = Path(info["GoMod"]).read_text()
    paired = gomod.required_version(upstream, "go.etcd.io/etcd/server/v3")
    if paired != versions.etcd:
        raise BuildError(
            f"versions.ETCD is {versions.etcd} but k8s.io/kubernetes {versions.kubernetes} "
            f"pairs with go.etcd.io/etcd/server/v3 {paired}: set ETCD = {paired!r}"
        )
    staging = gomod.staging_modules(upstream)
    if not staging:
        raise BuildError(f"no k8s.io/* v0.0.0 requirements found in {info['GoMod']}")
    text = gomod.render_gomod(
        f"{WRAPPER_MODULE}/k8s",
        gomod.go_directive(upstream),
        {"k8s.io/kubernetes": versions.kubernetes, "go.etcd.io/etcd/server/v3": versions.etcd},
        gomod.replace_lines(staging, versions.kubernetes),
    )
    (work / "go.mod").write_text(text)
    _log(f"k8s: go.mod with {len(staging)} staging replace lines derived from the tag's go.mod")


def prepare_kwok_module(versions: Versions, work: Path, log: Path) -> None:
    info = _download_json(f"sigs.k8s.io/kwok@{versions.kwok}", work, log)
    upstream = Path(info["GoMod"]).read_text()
    text = gomod.render_gomod(
        f"{WRAPPER_MODULE}/kwok", gomod.go_directive(upstream), {"sigs.k8s.io/kwok": versions.kwok}
    )
    (work / "go.mod").write_text(text)


def _build_module(
    name: str, binaries: Sequence[str], ldflags: str, work: Path, out: Path, log: Path
) -> None:
    _run(["go", "mod", "tidy"], work, log, f"{name}: resolving modules")
    args = ["go", "build", "-v", "-trimpath", f"-ldflags={ldflags}", "-o", str(out) + "/"]
    _run(args + [f"./{b}" for b in binaries], work, log, f"{name}: compiling", progress=True)


def build(versions: Versions | None = None, force: bool = False) -> Path:
    """Return the directory holding all binaries, building them first if needed."""
    versions = versions or Versions()
    gv = go_version()
    target = CachedBinaries(cache_root() / versions.cache_key(gv, sources_digest()), BINARIES)

    def recipe(src: Path, staging: Path, build_log: Path) -> dict[str, object]:
        _log("the first build takes many minutes; later runs reuse the binaries")
        prepare_k8s_module(versions, src / "k8s", build_log)
        prepare_kwok_module(versions, src / "kwok", build_log)
        date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        k8s_flags = k8s_ldflags(versions.kubernetes, date)
        _build_module("k8s", K8S_BINARIES, k8s_flags, src / "k8s", staging, build_log)
        _build_module("kwok", KWOK_BINARIES, "-s -w", src / "kwok", staging, build_log)
        return {"versions": versions.__dict__, "go": gv}

    what = f"Kubernetes {versions.kubernetes}, etcd {versions.etcd}, kwok {versions.kwok}"
    return build_once(target, f"{what} with {gv}", recipe, sources=GO_SOURCES, force=force)
