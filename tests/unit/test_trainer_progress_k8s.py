import json
from pathlib import Path

from sftjob_operator.api import identity
from sftjob_operator.status import progress
from sftjob_trainer.progress_k8s import (
    PROGRESS_KEY,
    PROGRESS_LABEL,
    PROGRESS_LABEL_VALUE,
    configmap_reporter_from_env,
    configmap_url,
    progress_patch,
)


def test_url_names_the_namespace_and_configmap() -> None:
    assert (
        configmap_url("10.0.0.1", "443", "team-a", "job-config")
        == "https://10.0.0.1:443/api/v1/namespaces/team-a/configmaps/job-config"
    )


def test_url_brackets_ipv6_hosts() -> None:
    assert configmap_url("fd00::1", "6443", "ns", "cm").startswith("https://[fd00::1]:6443/")


def test_patch_stores_the_record_as_json_under_one_key_and_labels_the_configmap() -> None:
    body = json.loads(progress_patch({"step": 3, "loss": 1.5}))
    assert sorted(body) == ["data", "metadata"]
    assert list(body["data"]) == [PROGRESS_KEY]
    assert json.loads(body["data"][PROGRESS_KEY]) == {"loss": 1.5, "step": 3}
    assert body["metadata"] == {"labels": {PROGRESS_LABEL: PROGRESS_LABEL_VALUE}}


def test_the_trainer_writes_the_key_and_label_the_operator_reads() -> None:
    # The trainer image does not import the operator; the names must still agree.
    assert PROGRESS_KEY == progress.PROGRESS_KEY
    assert (PROGRESS_LABEL, PROGRESS_LABEL_VALUE) == (
        identity.LABEL_PROGRESS,
        identity.PROGRESS_REPORTED,
    )


def _sa_dir(tmp_path: Path, namespace: str = "team-a") -> Path:
    (tmp_path / "namespace").write_text(namespace)
    (tmp_path / "token").write_text("t")
    return tmp_path


def test_no_reporter_without_a_configmap_name(tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1"}
    assert configmap_reporter_from_env(env, _sa_dir(tmp_path)) is None


def test_no_reporter_outside_a_cluster(tmp_path: Path) -> None:
    env = {"SFTJOB_PROGRESS_CONFIGMAP": "job-config"}
    assert configmap_reporter_from_env(env, _sa_dir(tmp_path)) is None
