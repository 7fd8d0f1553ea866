"""The datasets cache lands on the job's storage, so a restart finds the prepared dataset."""

from __future__ import annotations

from typing import Any

from sftjob_operator.api.paths import DATASETS_CACHE, STORAGE_MOUNT
from sftjob_operator.render import render_children
from sftjob_operator.render.caches import CACHE_ENV, cache_env

from tests.unit.test_render_cases import BASE_TRL, body


def pod_env(spec: dict[str, Any]) -> list[dict[str, Any]]:
    job = next(c for c in render_children(body("j", spec), BASE_TRL) if c["kind"] == "Job")
    return list(job["spec"]["template"]["spec"]["containers"][0]["env"])


def test_the_datasets_cache_is_on_the_storage_under_hubs_upload_ignore() -> None:
    assert DATASETS_CACHE.startswith(STORAGE_MOUNT + "/.cache/huggingface/")
    env = {e["name"]: e.get("value") for e in pod_env({})}
    assert env["HF_DATASETS_CACHE"] == DATASETS_CACHE


def test_a_user_entry_of_the_same_name_wins() -> None:
    mine = {"name": "HF_DATASETS_CACHE", "value": "/scratch/datasets"}
    env = pod_env({"env": [mine]})
    assert [e for e in env if e["name"] == "HF_DATASETS_CACHE"] == [mine]


def test_cache_env_is_pure() -> None:
    assert cache_env([]) == [{"name": n, "value": v} for n, v in CACHE_ENV]
    assert cache_env([{"name": "HF_DATASETS_CACHE", "value": "/x"}]) == []
