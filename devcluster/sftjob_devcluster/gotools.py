"""Build (or reuse) the small Go tools the tests check the operator's status with.

- `kstatus` prints what sigs.k8s.io/cli-utils/pkg/kstatus computes for objects: the status
  Flux's health checks see.
- `argolua` runs an Argo CD health script in gopher-lua as Argo CD runs one from argocd-cm.

Their sources live in devcluster/gotools/ (one wrapper module, two commands); the go.mod is
generated here from the pins in versions.py, and the gopher-lua and gopher-json pins are
checked against the go.mod of the Argo CD release they stand for. The binaries land in
<cache>/gotools-<key>/bin, where the key changes with the pins, the Go version and the
sources, so they are built once, by the first test that needs them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from . import gomod
from .build import WRAPPER_MODULE, BuildError, _run, go_env, go_version, sources_digest
from .cached import CachedBinaries, build_once, short_digest
from .paths import cache_root
from .versions import (
    ARGOCD,
    CLI_UTILS,
    GOPHER_JSON,
    GOPHER_LUA,
    GOTOOLS_RECIPE,
    KUBERNETES,
    staging_version,
)

GOTOOLS_SOURCES = Path(__file__).resolve().parent.parent / "gotools"
TOOLS = ("kstatus", "argolua")
ARGOCD_MODULE = "github.com/argoproj/argo-cd/v3"
REQUIRES = {
    "sigs.k8s.io/cli-utils": CLI_UTILS,
    "github.com/yuin/gopher-lua": GOPHER_LUA,
    "layeh.com/gopher-json": GOPHER_JSON,
    # The devcluster's Kubernetes libraries: kstatus then reuses the packages the
    # control-plane build compiled (the Go build cache), instead of compiling older ones.
    "k8s.io/api": staging_version(KUBERNETES),
    "k8s.io/apimachinery": staging_version(KUBERNETES),
}
# The pins that must equal what Argo CD ARGOCD requires.
ARGOCD_PINNED = ("github.com/yuin/gopher-lua", "layeh.com/gopher-json")
GO_DIRECTIVE = "1.22"  # `go mod tidy` raises it to what the requirements need


def tools_cache_key(go: str, sources: str) -> str:
    pins = "|".join(f"{m}@{v}" for m, v in sorted(REQUIRES.items()))
    return "gotools-" + short_digest(pins, ARGOCD, GOTOOLS_RECIPE, go, sources)


def wrapper_gomod() -> str:
    return gomod.render_gomod(f"{WRAPPER_MODULE}/gotools", GO_DIRECTIVE, REQUIRES)


def argocd_mismatches(argocd_gomod: str) -> list[str]:
    """`module: pinned X, Argo CD requires Y` for each pin that differs from Argo CD's."""
    out = []
    for module in ARGOCD_PINNED:
        wanted = gomod.required_version(argocd_gomod, module)
        if wanted != REQUIRES[module]:
            out.append(f"{module}: pinned {REQUIRES[module]}, Argo CD {ARGOCD} requires {wanted}")
    return out


def _argocd_gomod(work: Path, log: Path) -> str:
    """Argo CD's go.mod, fetched alone (`go list -m` reads the .mod, not the module zip)."""
    proc = subprocess.run(
        ["go", "list", "-m", "-json", f"{ARGOCD_MODULE}@{ARGOCD}"],
        cwd=work,
        capture_output=True,
        text=True,
        env=go_env(),
    )
    with log.open("a") as out:
        out.write(proc.stdout + proc.stderr)
    info = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else {}
    if not info.get("GoMod"):
        raise BuildError(
            f"the Go module proxy did not serve {ARGOCD_MODULE}@{ARGOCD}'s go.mod: "
            f"{proc.stderr.strip()} (log: {log})"
        )
    return Path(info["GoMod"]).read_text()


def build_tools(force: bool = False) -> Path:
    """Return the directory holding `kstatus` and `argolua`, building them first if needed."""
    key = tools_cache_key(go_version(), sources_digest(GOTOOLS_SOURCES))
    target = CachedBinaries(cache_root() / key, TOOLS)

    def recipe(src: Path, staging: Path, log: Path) -> dict[str, object]:
        if mismatches := argocd_mismatches(_argocd_gomod(src, log)):
            raise BuildError(
                "versions.py: set these pins to what Argo CD requires: " + "; ".join(mismatches)
            )
        (src / "go.mod").write_text(wrapper_gomod())
        _run(["go", "mod", "tidy"], src, log, "gotools: resolving modules")
        args = ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(staging) + "/"]
        _run(args + [f"./{t}" for t in TOOLS], src, log, "gotools: compiling")
        return {"requires": REQUIRES}

    return build_once(target, ", ".join(TOOLS), recipe, sources=GOTOOLS_SOURCES, force=force)


def run_tool(tool: str, objects: list[dict[str, object]], *args: str) -> list[dict[str, str]]:
    """Run one tool on `objects`; its answer per object, in order."""
    binary = build_tools() / tool
    proc = subprocess.run(
        [str(binary), *args],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if proc.returncode != 0:
        raise BuildError(f"{tool} {' '.join(args)} failed (exit {proc.returncode}): {proc.stderr}")
    answers: list[dict[str, str]] = json.loads(proc.stdout)
    return answers
