"""Build (or reuse) the helm binary from the Go module proxy.

helm v3's command is a `main` package (helm.sh/helm/v3/cmd/helm), so it cannot
be wrapped by an importing main.go like kwok. Instead a generated wrapper
module requires helm.sh/helm/v3 and declares the command as a Go `tool`; its
dependency graph is therefore exactly helm's own. No wrapper sources live in
devcluster/go/, so adding helm leaves the control-plane cache key unchanged.

The binary lands in <cache>/helm-<version>-<key>/bin/helm, next to (not inside)
the control-plane binaries, and is rebuilt only when the helm pin, the Go
version or this recipe changes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from . import gomod
from .build import WRAPPER_MODULE, BuildError, _download_json, _run, go_env, go_version
from .cached import CachedBinaries, build_once, short_digest
from .paths import cache_root
from .versions import HELM, HELM_RECIPE

HELM_MODULE = "helm.sh/helm/v3"
HELM_COMMAND = f"{HELM_MODULE}/cmd/helm"


def helm_cache_key(version: str, go: str, recipe: str = HELM_RECIPE) -> str:
    return f"helm-{version}-{short_digest(version, recipe, go)}"


def k8s_major_minor_from_client_go(client_go: str) -> tuple[str, str]:
    """('1', '37') for client-go 'v0.37.0', as helm's Makefile derives it."""
    parts = client_go.lstrip("v").split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise BuildError(f"k8s.io/client-go version {client_go!r}: expected 'v0.MINOR.PATCH'")
    return str(int(parts[0]) + 1), parts[1]


def helm_ldflags(version: str, client_go: str) -> str:
    """Linker flags equal to helm's release build: version info and the default kube version."""
    major, minor = k8s_major_minor_from_client_go(client_go)
    flags = [
        "-s",
        "-w",
        f"-X {HELM_MODULE}/internal/version.version={version}",
        f"-X {HELM_MODULE}/internal/version.gitTreeState=clean",
    ]
    for pkg in ("pkg/lint/rules", "pkg/chartutil"):
        flags += [
            f"-X {HELM_MODULE}/{pkg}.k8sVersionMajor={major}",
            f"-X {HELM_MODULE}/{pkg}.k8sVersionMinor={minor}",
        ]
    return " ".join(flags)


def wrapper_gomod(version: str, go: str) -> str:
    """go.mod of the wrapper module: require helm, declare its command as a tool."""
    text = gomod.render_gomod(f"{WRAPPER_MODULE}/helm", go, {HELM_MODULE: version})
    return text + f"\ntool {HELM_COMMAND}\n"


def _check_version(binary: Path, version: str) -> None:
    out = subprocess.run(
        [str(binary), "version", "--template", "{{.Version}}"],
        capture_output=True,
        text=True,
        env=go_env(),
    )
    if out.returncode != 0 or out.stdout.strip() != version:
        raise BuildError(
            f"{binary} reports version {out.stdout.strip()!r} (stderr: {out.stderr.strip()!r}); "
            f"expected {version}"
        )


def build_helm(version: str = HELM, force: bool = False) -> Path:
    """Return the path of the helm binary, building it first if needed."""
    gv = go_version()
    target = CachedBinaries(cache_root() / helm_cache_key(version, gv), ("helm",))

    def recipe(work: Path, staging: Path, log: Path) -> dict[str, object]:
        info = _download_json(f"{HELM_MODULE}@{version}", work, log)
        upstream = Path(info["GoMod"]).read_text()
        client_go = gomod.required_version(upstream, "k8s.io/client-go")
        if client_go is None:
            raise BuildError(f"{HELM_MODULE} {version}'s go.mod does not require k8s.io/client-go")
        (work / "go.mod").write_text(wrapper_gomod(version, gomod.go_directive(upstream)))
        _run(["go", "mod", "tidy"], work, log, "helm: resolving modules")
        args = ["go", "build", "-v", "-trimpath", f"-ldflags={helm_ldflags(version, client_go)}"]
        args += ["-o", str(staging / "helm"), HELM_COMMAND]
        _run(args, work, log, "helm: compiling", progress=True)
        _check_version(staging / "helm", version)
        return {"helm": version, "go": gv, "client-go": client_go}

    return build_once(target, f"helm {version} with {gv}", recipe, force=force) / "helm"
