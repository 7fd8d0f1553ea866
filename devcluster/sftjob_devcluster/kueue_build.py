"""Build (or reuse) the Kueue controller manager from the Go module proxy.

Like helm, Kueue's command (sigs.k8s.io/kueue/cmd/kueue) is a `main` package, so a
generated wrapper module requires sigs.k8s.io/kueue and declares the command as a Go
`tool`; the dependency graph is Kueue's own (its go.mod has no replace directives).

One source line is changed at build time: with internal certificate management off,
Kueue v0.17 reads its metrics serving certificate from the fixed path
/etc/kueue/metrics/certs (a Secret mount in its Deployment). A devcluster runs Kueue as
a process, so that path becomes the environment variable METRICS_CERT_DIR_ENV. `go build
-overlay` may not replace files in the module cache, so the build copies the downloaded
module into its work directory, changes that line there, and points the wrapper's
`replace sigs.k8s.io/kueue => ./kueue` at the copy (the module cache stays untouched,
every dependency still comes from the proxy at Kueue's own versions). The build fails
if the line is not found, so a version bump cannot silently drop the change.

The binary lands in <cache>/kueue-<version>-<key>/bin/kueue; it is built only when
a cluster asks for Kueue (`sftjob-devcluster up --kueue`, `sftjob-devcluster build
--kueue`), and rebuilt only when the pin, the Go version or this recipe changes.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from . import gomod
from .build import WRAPPER_MODULE, BuildError, _download_json, _run, go_version
from .cached import CachedBinaries, build_once, short_digest
from .paths import cache_root
from .versions import KUEUE, KUEUE_RECIPE

KUEUE_MODULE = "sigs.k8s.io/kueue"
KUEUE_COMMAND = f"{KUEUE_MODULE}/cmd/kueue"
MAIN_GO = Path("cmd/kueue/main.go")
METRICS_CERT_DIR_ENV = "KUEUE_METRICS_CERT_DIR"
_FIXED_METRICS_CERT_PATH = 'metricsCertPath := "/etc/kueue/metrics/certs"'


def kueue_cache_key(version: str, go: str, recipe: str = KUEUE_RECIPE) -> str:
    return f"kueue-{version}-{short_digest(version, recipe, go)}"


PATCHED_DIR = "kueue"  # the patched copy of the module, inside the wrapper's directory


def wrapper_gomod(version: str, go: str) -> str:
    """go.mod of the wrapper module: require Kueue (its patched copy), declare its manager
    command as a tool."""
    text = gomod.render_gomod(
        f"{WRAPPER_MODULE}/kueue",
        go,
        {KUEUE_MODULE: version},
        [f"{KUEUE_MODULE} => ./{PATCHED_DIR}"],
    )
    return text + f"\ntool {KUEUE_COMMAND}\n"


def copy_module(source: Path, target: Path) -> None:
    """A writable copy of a module from the (read-only) module cache."""
    shutil.copytree(source, target, copy_function=shutil.copyfile)
    for directory in [target, *(p for p in target.rglob("*") if p.is_dir())]:
        directory.chmod(0o755)


def check_no_replace(gomod_text: str) -> None:
    """A replace directive in Kueue's go.mod would not apply to a module that requires it."""
    if any(line.strip().startswith("replace") for line in gomod_text.splitlines()):
        raise BuildError(
            f"{KUEUE_MODULE}'s go.mod has replace directives, which `go build` of a requiring "
            "module ignores; the wrapper module must repeat them (see kueue_build.py)"
        )


def patched_main(source: str) -> str:
    """Kueue's main.go with the metrics certificate directory read from the environment."""
    if source.count(_FIXED_METRICS_CERT_PATH) != 1:
        raise BuildError(
            f"{MAIN_GO} of {KUEUE_MODULE} no longer contains {_FIXED_METRICS_CERT_PATH!r}; "
            "check how this Kueue version finds its metrics certificate and update kueue_build.py"
        )
    if '\t"os"\n' not in source:
        raise BuildError(f"{MAIN_GO} of {KUEUE_MODULE} does not import os; update kueue_build.py")
    return source.replace(
        _FIXED_METRICS_CERT_PATH, f'metricsCertPath := os.Getenv("{METRICS_CERT_DIR_ENV}")'
    )


def ldflags(version: str, build_date: str) -> str:
    pkg = f"{KUEUE_MODULE}/pkg/version"
    return f"-s -w -X {pkg}.GitVersion={version} -X {pkg}.BuildDate={build_date}"


def module_dir(version: str = KUEUE) -> Path:
    """Kueue's extracted module (its config/ holds the CRDs and webhook manifests)."""
    work = cache_root() / "kueue-module"
    work.mkdir(parents=True, exist_ok=True)
    log = work / "download.log"
    return Path(_download_json(f"{KUEUE_MODULE}@{version}", work, log)["Dir"])


def build_kueue(version: str = KUEUE, force: bool = False) -> Path:
    """Return the path of the kueue binary, building it first if needed."""
    gv = go_version()
    target = CachedBinaries(cache_root() / kueue_cache_key(version, gv), ("kueue",))

    def recipe(work: Path, staging: Path, log: Path) -> dict[str, object]:
        info = _download_json(f"{KUEUE_MODULE}@{version}", work, log)
        upstream = Path(info["GoMod"]).read_text()
        check_no_replace(upstream)
        (work / "go.mod").write_text(wrapper_gomod(version, gomod.go_directive(upstream)))
        copy_module(Path(info["Dir"]), work / PATCHED_DIR)
        main_go = work / PATCHED_DIR / MAIN_GO
        main_go.write_text(patched_main(main_go.read_text()))
        _run(["go", "mod", "tidy"], work, log, "kueue: resolving modules")
        date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        args = ["go", "build", "-v", "-trimpath"]
        args += [f"-ldflags={ldflags(version, date)}", "-o", str(staging / "kueue")]
        _run([*args, KUEUE_COMMAND], work, log, "kueue: compiling", progress=True)
        return {"kueue": version, "go": gv}

    return build_once(target, f"Kueue {version} with {gv}", recipe, force=force) / "kueue"
