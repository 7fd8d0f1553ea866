"""Env resolution of the local node agent (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from sftjob_devcluster.nodeagent.envresolve import expand, expand_command, resolve_env
from sftjob_devcluster.nodeagent.errors import ConfigError, PodRejected


class FakeLookups:
    def __init__(
        self,
        secrets: Mapping[str, Mapping[str, bytes]] = {},
        config_maps: Mapping[str, Mapping[str, bytes]] = {},
    ) -> None:
        self.secrets = secrets
        self.config_maps = config_maps

    def secret(self, namespace: str, name: str) -> Mapping[str, bytes] | None:
        return self.secrets.get(f"{namespace}/{name}")

    def config_map(self, namespace: str, name: str) -> Mapping[str, bytes] | None:
        return self.config_maps.get(f"{namespace}/{name}")


POD: dict[str, Any] = {
    "metadata": {
        "name": "train-a1-0-abcde",
        "namespace": "ns1",
        "uid": "u-1",
        "labels": {"app": "x"},
        "annotations": {"batch.kubernetes.io/job-completion-index": "1"},
    },
    "spec": {"nodeName": "local-cpu", "serviceAccountName": "trainer"},
    "status": {"podIP": "127.0.0.1", "hostIP": "127.0.0.1"},
}


def env_of(container: dict[str, Any], lookups: FakeLookups | None = None) -> dict[str, str]:
    return resolve_env(
        POD, container, "spec.containers[0]", lookups or FakeLookups(), {"PATH": "/bin"}
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(A)-$(B)", "1-two"),
        ("$$(A)", "$(A)"),
        ("$(MISSING)", "$(MISSING)"),
        ("cost $5", "cost $5"),
        ("$(A", "$(A"),
        ("end$", "end$"),
        ("$$$(A)", "$1"),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert expand(text, {"A": "1", "B": "two"}.get) == expected


def test_field_refs_and_completion_index() -> None:
    env = env_of(
        {
            "env": [
                {
                    "name": "JOB_COMPLETION_INDEX",
                    "valueFrom": {
                        "fieldRef": {
                            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"
                        }
                    },
                },
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {
                    "name": "NOLABEL",
                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['x']"}},
                },
            ]
        }
    )
    assert env["JOB_COMPLETION_INDEX"] == "1"
    assert env["POD"] == "train-a1-0-abcde"
    assert env["NS"] == "ns1"
    assert env["NODE"] == "local-cpu"
    assert env["IP"] == "127.0.0.1"
    assert env["NOLABEL"] == ""
    assert env["PATH"] == "/bin"


def test_secret_and_config_map_refs_and_expansion_order() -> None:
    lookups = FakeLookups(
        secrets={"ns1/hub": {"token": b"s3cret"}},
        config_maps={"ns1/cfg": {"port": b"29500"}},
    )
    env = env_of(
        {
            "env": [
                {
                    "name": "HF_TOKEN",
                    "valueFrom": {"secretKeyRef": {"name": "hub", "key": "token"}},
                },
                {"name": "PORT", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "port"}}},
                {"name": "ADDR", "value": "host:$(PORT)"},
                {"name": "LATER", "value": "$(DEFINED_AFTER)"},
                {"name": "DEFINED_AFTER", "value": "x"},
            ]
        },
        lookups,
    )
    assert env["HF_TOKEN"] == "s3cret"
    assert env["ADDR"] == "host:29500"
    assert env["LATER"] == "$(DEFINED_AFTER)"  # only earlier variables expand


def test_env_from_with_prefix_and_env_wins() -> None:
    lookups = FakeLookups(
        config_maps={"ns1/cfg": {"A": b"from-cm", "B": b"b", "bad key": b"skipped"}},
        secrets={"ns1/sec": {"S": b"s"}},
    )
    env = env_of(
        {
            "envFrom": [
                {"configMapRef": {"name": "cfg"}},
                {"secretRef": {"name": "sec"}, "prefix": "P_"},
                {"configMapRef": {"name": "absent", "optional": True}},
            ],
            "env": [{"name": "A", "value": "from-env"}],
        },
        lookups,
    )
    assert env["A"] == "from-env"
    assert env["B"] == "b"
    assert env["P_S"] == "s"
    assert "bad key" not in env


def test_optional_missing_secret_key_is_skipped() -> None:
    env = env_of(
        {
            "env": [
                {
                    "name": "HF_TOKEN",
                    "valueFrom": {"secretKeyRef": {"name": "nope", "key": "t", "optional": True}},
                }
            ]
        }
    )
    assert "HF_TOKEN" not in env


def test_missing_secret_is_a_config_error_naming_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        env_of(
            {"env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "t"}}}]}
        )
    assert err.value.field == "spec.containers[0].env[0]"
    assert "ns1/nope does not exist" in err.value.message


def test_missing_key_lists_the_keys() -> None:
    lookups = FakeLookups(secrets={"ns1/hub": {"token": b"x"}})
    with pytest.raises(ConfigError, match=r"no key 'tok'.*\['token'\]"):
        env_of(
            {"env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "hub", "key": "tok"}}}]},
            lookups,
        )


def test_unsupported_field_path_is_rejected() -> None:
    with pytest.raises(PodRejected, match=r"status\.phase"):
        env_of({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}}]})


def test_resource_field_ref_rounds_up_and_falls_back_to_node() -> None:
    container = {
        "resources": {"limits": {"memory": "1536Mi"}, "requests": {"cpu": "1500m"}},
        "env": [
            {
                "name": "MEM",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Gi"}},
            },
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}},
            {"name": "LCPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
        ],
    }
    env = resolve_env(POD, container, "c", FakeLookups(), {}, {"cpu": "16"})
    assert (env["MEM"], env["CPU"], env["LCPU"]) == ("2", "2", "16")


def test_command_and_args_are_expanded() -> None:
    argv = expand_command(
        {"command": ["sh", "-c"], "args": ["echo $(NAME) $$(NAME)"]}, {"NAME": "x"}, "c"
    )
    assert argv == ["sh", "-c", "echo x $(NAME)"]


def test_missing_command_says_what_to_write() -> None:
    with pytest.raises(PodRejected) as err:
        expand_command({"image": "busybox", "args": ["x"]}, {}, "spec.containers[1]")
    assert err.value.field == "spec.containers[1].command"
    assert "not in the local node agent's table" in err.value.message
    assert "write the command" in err.value.message


def test_a_listed_image_without_a_command_runs_its_entrypoint() -> None:
    container = {"image": "ghcr.io/sftjob/operator:0.1.0", "args": ["--namespace", "$(NS)"]}
    argv = expand_command(container, {"NS": "team-a"}, "spec.containers[0]")
    assert argv == ["sftjob-operator", "--namespace", "team-a"]
