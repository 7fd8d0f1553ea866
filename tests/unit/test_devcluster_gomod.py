from __future__ import annotations

import pytest
from sftjob_devcluster import gomod, versions
from sftjob_devcluster.build import k8s_ldflags

UPSTREAM = """\
module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

require (
	github.com/blang/semver/v4 v4.0.0
	go.etcd.io/etcd/server/v3 v3.6.8 // indirect
	k8s.io/api v0.0.0
	k8s.io/apiserver v0.0.0
	k8s.io/utils v0.0.0-20260210185600-b8788abfbbc2
)

require k8s.io/kms v0.0.0 // indirect

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/apiserver => ./staging/src/k8s.io/apiserver
)
"""


def test_staging_modules_are_the_v0_0_0_requirements() -> None:
    assert gomod.staging_modules(UPSTREAM) == ["k8s.io/api", "k8s.io/apiserver", "k8s.io/kms"]


def test_pseudo_versions_and_other_modules_are_not_staging() -> None:
    text = "require (\n\tk8s.io/utils v0.0.0-2026\n\tk8s.io/klog/v2 v2.140.0\n)\n"
    assert gomod.staging_modules(text) == []


def test_replace_lines_map_each_staging_module_to_its_published_version() -> None:
    lines = gomod.replace_lines(["k8s.io/apiserver", "k8s.io/api"], "v1.36.3")
    assert lines == [
        "k8s.io/api => k8s.io/api v0.36.3",
        "k8s.io/apiserver => k8s.io/apiserver v0.36.3",
    ]


def test_go_directive_and_required_version() -> None:
    assert gomod.go_directive(UPSTREAM) == "1.26.0"
    assert gomod.required_version(UPSTREAM, "go.etcd.io/etcd/server/v3") == "v3.6.8"
    assert gomod.required_version(UPSTREAM, "k8s.io/kms") == "v0.0.0"
    assert gomod.required_version(UPSTREAM, "example.com/absent") is None


def test_go_directive_missing_is_an_error() -> None:
    with pytest.raises(ValueError, match="'go' directive"):
        gomod.go_directive("module x\n")


def test_render_gomod() -> None:
    text = gomod.render_gomod(
        "sftjob.dev/devcluster/k8s",
        "1.26.0",
        {"k8s.io/kubernetes": "v1.36.3", "go.etcd.io/etcd/server/v3": "v3.6.8"},
        ["k8s.io/api => k8s.io/api v0.36.3"],
    )
    assert text == (
        "module sftjob.dev/devcluster/k8s\n\ngo 1.26.0\n\nrequire (\n"
        "\tgo.etcd.io/etcd/server/v3 v3.6.8\n\tk8s.io/kubernetes v1.36.3\n)\n\n"
        "replace (\n\tk8s.io/api => k8s.io/api v0.36.3\n)\n"
    )


def test_staging_version_and_bad_tags() -> None:
    assert versions.staging_version("v1.36.3") == "v0.36.3"
    with pytest.raises(ValueError, match=r"v1\.36\.3"):
        versions.staging_version("1.36.3")
    assert versions.major_minor("v1.36.3") == ("1", "36")


def test_ldflags_set_the_release_version_for_server_and_client_packages() -> None:
    flags = k8s_ldflags("v1.36.3", "2026-01-01T00:00:00Z")
    assert "-X k8s.io/component-base/version.gitVersion=v1.36.3" in flags
    assert "-X k8s.io/client-go/pkg/version.gitVersion=v1.36.3" in flags
    assert "-X k8s.io/component-base/version.gitMinor=36" in flags


def test_cache_key_changes_with_every_input() -> None:
    base = versions.Versions()
    key = base.cache_key("go1.26.8", "abc")
    assert key == versions.Versions().cache_key("go1.26.8", "abc")
    assert key != base.cache_key("go1.26.9", "abc")
    assert key != base.cache_key("go1.26.8", "abd")
    assert key != versions.Versions(kwok="v0.7.0").cache_key("go1.26.8", "abc")
