"""The Go tools' build inputs: the generated go.mod, the cache key, the Argo CD pin check."""

from __future__ import annotations

from sftjob_devcluster import gomod, gotools
from sftjob_devcluster.versions import (
    ARGOCD,
    CLI_UTILS,
    GOPHER_JSON,
    GOPHER_LUA,
    KUBERNETES,
    staging_version,
)


def test_the_wrapper_module_requires_exactly_the_pins() -> None:
    text = gotools.wrapper_gomod()
    assert gomod.required_version(text, "sigs.k8s.io/cli-utils") == CLI_UTILS
    assert gomod.required_version(text, "github.com/yuin/gopher-lua") == GOPHER_LUA
    assert gomod.required_version(text, "layeh.com/gopher-json") == GOPHER_JSON
    assert text.startswith("module sftjob.dev/devcluster/gotools\n")
    # The devcluster's Kubernetes libraries, so the control-plane build's packages are reused.
    assert gomod.required_version(text, "k8s.io/apimachinery") == staging_version(KUBERNETES)


def test_the_cache_key_changes_with_the_go_version_and_the_sources() -> None:
    key = gotools.tools_cache_key("go1.26.8", "abc")
    assert key.startswith("gotools-") and key == gotools.tools_cache_key("go1.26.8", "abc")
    assert key != gotools.tools_cache_key("go1.26.9", "abc")
    assert key != gotools.tools_cache_key("go1.26.8", "abd")


def test_the_lua_pins_must_be_argo_cds() -> None:
    argocd = f"""module github.com/argoproj/argo-cd/v3

go 1.25.0

require (
\tgithub.com/yuin/gopher-lua {GOPHER_LUA}
\tlayeh.com/gopher-json {GOPHER_JSON}
)
"""
    assert gotools.argocd_mismatches(argocd) == []
    older = argocd.replace(f"gopher-lua {GOPHER_LUA}", "gopher-lua v1.1.0")
    (problem,) = gotools.argocd_mismatches(older)
    assert problem == (
        f"github.com/yuin/gopher-lua: pinned {GOPHER_LUA}, Argo CD {ARGOCD} requires v1.1.0"
    )
