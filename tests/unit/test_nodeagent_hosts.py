"""Hosts file rendering of the local node agent (pure)."""

from __future__ import annotations

from typing import Any

from sftjob_devcluster.nodeagent.hostsfile import pod_hostname, pod_names, render_hosts


def pod(
    name: str, hostname: str = "", subdomain: str = "", namespace: str = "ns"
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if hostname:
        spec["hostname"] = hostname
    if subdomain:
        spec["subdomain"] = subdomain
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def hosts_map(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        ip, *names = line.split()
        for n in names:
            out.setdefault(n, ip)  # the resolver takes the first match
    return out


def test_hostname_defaults_to_pod_name_cut_to_a_label() -> None:
    assert pod_hostname(pod("p", hostname="h")) == "h"
    assert pod_hostname(pod("a" * 62 + "-b")) == "a" * 62
    assert pod_hostname(pod("plain")) == "plain"


def test_names_with_subdomain() -> None:
    assert pod_names(pod("j-0-x", "j-0", "j")) == [
        "j-0",
        "j-0.j",
        "j-0.j.ns.svc",
        "j-0.j.ns.svc.cluster.local",
    ]
    assert pod_names(pod("solo")) == ["solo"]


def test_peers_of_the_same_subdomain_and_namespace_resolve_locally() -> None:
    me = pod("job-a1-1-xyz", "job-a1-1", "job")
    others = [
        me,
        pod("job-a1-0-abc", "job-a1-0", "job"),
        pod("other-0-q", "other-0", "other"),
        pod("job-a1-2-def", "job-a1-2", "job", namespace="elsewhere"),
    ]
    names = hosts_map(render_hosts(me, others))
    assert names["job-a1-0.job"] == "127.0.0.1"
    assert names["job-a1-0.job.ns.svc.cluster.local"] == "127.0.0.1"
    assert names["job-a1-1"] == "127.0.0.1"
    assert names["job.ns.svc"] == "127.0.0.1"
    assert names["localhost"] == "127.0.0.1"
    assert "other-0" not in names and "other-0.other" not in names
    assert "job-a1-2.job" not in names


def test_without_subdomain_only_own_name() -> None:
    names = hosts_map(render_hosts(pod("a"), [pod("b"), pod("c", "c", "s")]))
    assert set(names) == {"localhost", "ip6-localhost", "ip6-loopback", "a"}
