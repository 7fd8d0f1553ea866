"""Trackers in the operator: their files land on the job's storage, credentials come from
Secrets, and the spec policy accepts only transformers' report_to names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sftjob_operator.admission.spec_policy import (
    relation_validations,
    report_to_validation,
    secret_env_validation,
)
from sftjob_operator.api.secret_env import SECRET_ENV_NAMES
from sftjob_operator.api.trl_fields import load_trl_fields
from sftjob_operator.render import render_children
from sftjob_operator.render.configmap import OUTPUT_DIR
from sftjob_operator.render.trackers import TRACKER_ENV, tracker_env

from tests.unit.test_render_cases import BASE_TRL, body

ROOT = Path(__file__).resolve().parents[2]


def pod_env(spec: dict[str, Any]) -> list[dict[str, Any]]:
    job = next(c for c in render_children(body("j", spec), BASE_TRL) if c["kind"] == "Job")
    return list(job["spec"]["template"]["spec"]["containers"][0]["env"])


def test_every_tracker_default_is_on_the_storage() -> None:
    for name, value in TRACKER_ENV:
        path = value.removeprefix("file://")
        assert value == "true" or path == OUTPUT_DIR or path.startswith(OUTPUT_DIR + "/"), name


def test_trainer_pods_get_the_tracker_defaults() -> None:
    env = {e["name"]: e.get("value") for e in pod_env({})}
    assert env["WANDB_DIR"] == OUTPUT_DIR
    assert env["TRACKIO_DIR"] == f"{OUTPUT_DIR}/trackio"
    assert env["MLFLOW_TRACKING_URI"] == f"file://{OUTPUT_DIR}/mlruns"
    assert env["MLFLOW_ALLOW_FILE_STORE"] == "true"


def test_a_user_entry_of_the_same_name_wins() -> None:
    server = {"name": "MLFLOW_TRACKING_URI", "value": "https://mlflow.example.com"}
    from_secret = {"name": "WANDB_DIR", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}
    env = pod_env({"env": [server, from_secret]})
    names = [e["name"] for e in env]
    assert len(names) == len(set(names)), names
    assert server in env and from_secret in env
    assert {"name": "TRACKIO_DIR", "value": f"{OUTPUT_DIR}/trackio"} in env


def test_tracker_env_is_pure() -> None:
    assert [e["name"] for e in tracker_env([{"name": "WANDB_DIR", "value": "/x"}])] == [
        name for name, _ in TRACKER_ENV if name != "WANDB_DIR"
    ]
    assert tracker_env([]) == [{"name": n, "value": v} for n, v in TRACKER_ENV]


def test_the_secret_rule_comes_from_the_one_table() -> None:
    rule = secret_env_validation()
    assert rule in relation_validations()
    for name in SECRET_ENV_NAMES:
        assert f"'{name}'" in rule["expression"]
        assert f"'{name}'" in rule["messageExpression"]
    for message in (rule["message"], rule["messageExpression"]):
        assert "spec.env" in message and "valueFrom.secretKeyRef" in message
    # Only an inline value is refused; an entry with valueFrom has no `value`.
    assert "has(e.value) && e.value != ''" in rule["expression"]
    assert {"HF_TOKEN", "WANDB_API_KEY", "MLFLOW_TRACKING_PASSWORD"} <= set(SECRET_ENV_NAMES)


def test_report_to_names_are_transformers_own_table() -> None:
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    assert load_trl_fields().report_to == tuple(INTEGRATION_TO_CALLBACK)
    committed = json.loads((ROOT / "operator/sftjob_operator/api/trl_fields.json").read_text())
    assert committed["report_to"] == list(INTEGRATION_TO_CALLBACK)
    rule = report_to_validation(load_trl_fields().report_to)
    assert rule in relation_validations()
    assert rule["message"].startswith("spec.sftConfig.report_to:")
    for name in ("all", "none", *INTEGRATION_TO_CALLBACK):
        assert f"'{name}'" in rule["expression"] and name in rule["message"]
