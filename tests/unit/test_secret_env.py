"""Credentials in spec.env: one table (api/secret_env.py) for admission and render.

What the admission policy accepts, render turns into children: a Hub token from a Secret
reaches the pods under its own name; an inline credential is refused at admission, naming
the entry and asking for valueFrom.secretKeyRef. The policy is evaluated offline with the
CLI's evaluator of the generated policy (the same CEL the apiserver runs; the integration
corpus tests/data/invalid checks it on a real apiserver).
"""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_cli.apiserver import POLICY, admit
from sftjob_cli.checks import default_policy
from sftjob_cli.crd import load_crd
from sftjob_operator.api.secret_env import HUB_TOKEN_ENV, HUB_TOKEN_ENV_NAMES, SECRET_ENV_NAMES
from sftjob_operator.render import RenderError, render_children

from tests.unit.test_render_cases import BASE_TRL, body

FROM_SECRET = {"valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}
PUSH = {"push_to_hub": True, "hub_model_id": "org/model", "learning_rate": 2e-5}


def manifest(env: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sftjob.dev/v1alpha1",
        "kind": "SFTJob",
        "metadata": {"name": "j"},
        "spec": {
            "scriptArgs": {"dataset_name": "trl-lib/Capybara"},
            "modelConfig": {"model_name_or_path": "Qwen/Qwen2.5-0.5B"},
            "sftConfig": {"learning_rate": 2e-5},
            "env": env,
            **spec,
        },
    }


def refusals(doc: dict[str, Any]) -> list[str]:
    outcome = admit(doc, load_crd(), default_policy())
    assert outcome.stage in (None, POLICY), outcome.errors
    return [e.split("denied request: ", 1)[1] for e in outcome.errors]


def job_env(doc: dict[str, Any]) -> list[dict[str, Any]]:
    children = render_children(body("j", doc["spec"]), BASE_TRL)
    (job,) = [c for c in children if c["kind"] == "Job"]
    return list(job["spec"]["template"]["spec"]["containers"][0]["env"])


def test_the_hub_token_names_are_credentials() -> None:
    assert HUB_TOKEN_ENV in HUB_TOKEN_ENV_NAMES
    assert set(HUB_TOKEN_ENV_NAMES) <= set(SECRET_ENV_NAMES)


@pytest.mark.parametrize("name", SECRET_ENV_NAMES)
@pytest.mark.parametrize(
    "source",
    [
        {"value": "s3cret-value"},
        {"valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
        {"valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ],
    ids=["inline", "configmap", "field"],
)
def test_a_credential_not_from_a_secret_is_refused_naming_it(
    name: str, source: dict[str, Any]
) -> None:
    env = [{"name": "OK", "value": "1"}, {"name": name, **source}]
    (message,) = refusals(manifest(env))
    assert message.startswith(f"spec.env: {name} must not be written as an inline value")
    assert "valueFrom.secretKeyRef" in message and "s3cret" not in message


@pytest.mark.parametrize("name", SECRET_ENV_NAMES)
def test_a_credential_from_a_secret_is_accepted_and_reaches_the_pods(name: str) -> None:
    doc = manifest([{"name": name, **FROM_SECRET}])
    assert refusals(doc) == []
    assert {"name": name, **FROM_SECRET} in job_env(doc)


@pytest.mark.parametrize("name", HUB_TOKEN_ENV_NAMES)
def test_push_to_hub_takes_the_token_from_spec_env(name: str) -> None:
    doc = manifest([{"name": name, **FROM_SECRET}], sftConfig=PUSH)
    assert refusals(doc) == []
    env = job_env(doc)
    assert [e for e in env if e["name"] in HUB_TOKEN_ENV_NAMES] == [{"name": name, **FROM_SECRET}]


def test_push_to_hub_takes_the_token_from_hub_token_secret_ref() -> None:
    doc = manifest([], sftConfig=PUSH, hubTokenSecretRef={"name": "hf", "key": "token"})
    assert refusals(doc) == []
    assert {"name": HUB_TOKEN_ENV, **FROM_SECRET} in job_env(doc)


def test_push_to_hub_without_a_secret_token_is_refused() -> None:
    (message,) = refusals(manifest([{"name": "HF_HUB_OFFLINE", "value": "0"}], sftConfig=PUSH))
    assert message.startswith("spec.sftConfig.push_to_hub needs a Hub token")
    assert "hubTokenSecretRef" in message and f"spec.env entry {HUB_TOKEN_ENV}" in message


def test_the_hub_token_given_twice_is_refused_by_admission_and_render() -> None:
    doc = manifest(
        [{"name": HUB_TOKEN_ENV, **FROM_SECRET}], hubTokenSecretRef={"name": "hf", "key": "t"}
    )
    (message,) = refusals(doc)
    assert message.startswith(f"spec.env: {HUB_TOKEN_ENV} and spec.hubTokenSecretRef both")
    with pytest.raises(RenderError) as err:
        job_env(doc)
    assert err.value.field == "spec.env[0].name"
