"""The cluster commands' arguments and the errors a user can cause: one line, no traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner
from kubernetes.client.exceptions import ApiException
from sftjob_cli import delete, kube, logs, submit
from sftjob_cli.kube import KubeError, manifest_namespace
from sftjob_cli.main import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "tiny-cpu.yaml"


def kubeconfig(tmp_path: Path, server: str = "https://127.0.0.1:1") -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dev",
        "clusters": [{"name": "dev", "cluster": {"server": server}}],
        "users": [{"name": "dev", "user": {"token": "x"}}],
        "contexts": [{"name": "dev", "context": {"cluster": "dev", "user": "dev",
                                                  "namespace": "team"}}],
    }))  # fmt: skip
    return path


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["get", "tiny", "-A"], "a NAME cannot be combined with -A"),
        (["logs", "tiny", "--rank", "1", "--all-ranks"], "--rank and --all-ranks exclude"),
        (["get", "-o", "table"], "'table' is not one of 'wide', 'yaml', 'json'"),
        (["run", str(EXAMPLE)], "Missing option '--local'"),
        (["logs", "tiny", "--attempt", "0"], "0 is not in the range x>=1"),
    ],
)
def test_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    result = (
        invoke(*args, "--kubeconfig", str(kubeconfig(tmp_path)))
        if args[0] != "run"
        else invoke(*args)
    )
    assert result.exit_code == 2 and message in result.output, result.output


@pytest.mark.parametrize("command", ["get", "describe x", "logs x", "plot x", "delete x"])
def test_no_kubeconfig_is_one_line(command: str, tmp_path: Path) -> None:
    result = invoke(*command.split(), "--kubeconfig", str(tmp_path / "none"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert (
        result.output.startswith(f"error: no usable kubeconfig in {tmp_path / 'none'}:")
        and result.output.count("\n") == 1
    )


def test_a_context_not_in_the_kubeconfig_is_named(tmp_path: Path) -> None:
    result = invoke("get", "--kubeconfig", str(kubeconfig(tmp_path)), "--context", "prod")
    assert result.exit_code == 1
    assert result.output == 'error: context "prod" is not in the kubeconfig (it has: dev)\n'


def test_no_cluster_is_one_line(tmp_path: Path) -> None:
    result = invoke("get", "tiny", "--kubeconfig", str(kubeconfig(tmp_path)))
    assert result.exit_code == 1 and result.output.startswith("error: cannot reach the cluster")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_the_contexts_namespace_is_the_default(tmp_path: Path) -> None:
    assert kube.connect(str(kubeconfig(tmp_path)), None, None).namespace == "team"
    assert kube.connect(str(kubeconfig(tmp_path)), "dev", "other").namespace == "other"


def test_api_errors_say_what_the_user_can_do() -> None:
    denied = ApiException(status=403, reason="Forbidden")
    denied.body = '{"message": "sftjobs is forbidden: User \\"bob\\" cannot list"}'
    line = kube.describe_error(denied, "list sftjobs in namespace team")
    assert line.startswith("forbidden: list sftjobs in namespace team: sftjobs is forbidden")
    with pytest.raises(kube.KubeError, match="unauthorized"), kube.user_errors("get"):
        raise ApiException(status=401, reason="Unauthorized")


def pod(name: str, rank: str, node: str = "n1", phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns",
                     "annotations": {"batch.kubernetes.io/job-completion-index": rank}},
        "spec": {"nodeName": node},
        "status": {"phase": phase},
    }  # fmt: skip


def test_log_pods_by_rank() -> None:
    pods = [logs.pod_of(pod("a-0", "0")), logs.pod_of(pod("a-1", "1", "n2")),
            logs.pod_of(pod("a-1-new", "1", "n3"))]  # fmt: skip
    assert [p.name for p in logs.select(pods, None, all_ranks=True)] == ["a-0", "a-1-new"]
    assert [p.name for p in logs.select(pods, None, all_ranks=False)] == ["a-0"]
    assert [p.name for p in logs.select(pods, 1, all_ranks=False)] == ["a-1-new"]
    assert logs.select(pods, 5, all_ranks=False) == []
    assert pods[1].prefix == "[rank 1 n2] "


def test_log_files_are_read_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "trainer.log"
    path.write_bytes(b"one\n  0%|  | 0/30\r 50%|# | 15/30\r\ntwo\nthree")
    assert list(logs.file_lines(path, follow=False, finished=lambda: True)) == [
        "one", " 50%|# | 15/30", "two", "three"
    ]  # fmt: skip
    assert list(logs.file_lines(tmp_path / "none", follow=True, finished=lambda: True)) == []
    # --tail: the last lines of what is there (the unfinished last one counts, printed once)
    assert list(logs.file_lines(path, follow=False, finished=lambda: True, tail=2)) == [
        "two", "three"
    ]  # fmt: skip
    assert list(logs.file_lines(path, follow=False, finished=lambda: True, tail=0)) == []


def test_tail_of_a_followed_file_prints_its_unfinished_line_once_whole(tmp_path: Path) -> None:
    path = tmp_path / "trainer.log"
    path.write_bytes(b"one\ntwo\nthr")
    done = [False]

    def finished() -> bool:
        with path.open("ab") as out:  # the trainer finishes its line, then the pod ends
            out.write(b"ee\n")
        done[0] = True
        return done[0]

    assert list(logs.file_lines(path, follow=True, finished=finished, tail=2)) == [
        "two", "three"
    ]  # fmt: skip


def test_an_attempt_without_pods_says_why() -> None:
    running = {"phase": "Running"}
    assert logs.no_pod_reason(running, 3, 2) == (
        "the job has not reached attempt 3 (it is at attempt 2)"
    )
    assert "the next attempt replaced them" in logs.no_pod_reason(running, 1, 2)
    assert logs.no_pod_reason({"phase": "Succeeded"}, 2, 2) == (
        "the job is Succeeded and its pods are gone"
    )
    assert logs.no_pod_reason({"phase": "Queued"}, 1, 1).startswith("attempt 1 has no running")


def test_a_job_without_running_pods_says_what_it_is_doing() -> None:
    queued = {"phase": "Queued", "message": "waiting for quota in LocalQueue team-a"}
    assert logs.waiting(queued, 1) == (
        "attempt 1 has no running pod yet (phase Queued: waiting for quota in LocalQueue team-a)"
    )
    assert logs.waiting({}, 2) == "attempt 2 has no running pod yet (phase Pending)"


def test_submit_reads_the_sftjobs_with_a_namespace(tmp_path: Path) -> None:
    jobs = submit.read_jobs(str(EXAMPLE), "team", "ctx")
    assert [j["metadata"] for j in jobs] == [{"name": "tiny-cpu", "namespace": "team"}]
    jobs = submit.read_jobs(str(EXAMPLE), None, "ctx")
    assert [j["metadata"] for j in jobs] == [{"name": "tiny-cpu", "namespace": "ctx"}]
    other = tmp_path / "cm.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(Exception, match=r"cm\.yaml: ConfigMap is not an SFTJob; submit applies"):
        submit.read_jobs(str(other), "team", "ctx")
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text(EXAMPLE.read_text() + "\n---\n" + other.read_text())
    with pytest.raises(Exception, match=r"mixed\.yaml#2: ConfigMap is not an SFTJob"):
        submit.read_jobs(str(mixed), None, "ctx")
    unnamed = tmp_path / "unnamed.yaml"
    unnamed.write_text(
        other.read_text()
        + "---\n"
        + EXAMPLE.read_text().replace("name: tiny-cpu", "labels: {a: b}", 1)
    )
    with pytest.raises(Exception, match=r"unnamed\.yaml#1: ConfigMap is not"):
        submit.read_jobs(str(unnamed), None, "ctx")
    unnamed.write_text(
        EXAMPLE.read_text()
        + "---\n"
        + EXAMPLE.read_text().replace("name: tiny-cpu", "labels: {a: b}", 1)
    )
    with pytest.raises(
        Exception, match=r"unnamed\.yaml#2: an SFTJob without metadata\.name; write one"
    ):
        submit.read_jobs(str(unnamed), None, "ctx")
    elsewhere = tmp_path / "ns.yaml"
    elsewhere.write_text(
        EXAMPLE.read_text().replace("name: tiny-cpu", "name: tiny-cpu\n  namespace: other", 1)
    )
    with pytest.raises(Exception, match='"other"\\) does not match -n "team"'):
        submit.read_jobs(str(elsewhere), "team", "ctx")


def test_submit_exit_status_follows_the_final_phase() -> None:
    def job(phase: str) -> dict[str, Any]:
        return {"status": {"phase": phase}}

    assert submit.exit_status([job("Succeeded"), job("Succeeded")]) == 0
    assert submit.exit_status([job("Succeeded"), job("Failed")]) == 1


def test_delete_says_when_storage_outlives_the_job_anyway() -> None:
    def spec(**storage: Any) -> dict[str, Any]:
        return {"spec": {"storage": storage}}

    assert "is not the job's own" in (delete.storage_note(spec(claimName="c")) or "")
    assert "emptyDir" in (delete.storage_note(spec()) or "")
    assert "retain" in (delete.storage_note(spec(size="1Gi", retain=True)) or "")
    assert delete.storage_note(spec(size="1Gi")) is None


def test_keep_storage_patch_takes_only_the_jobs_owner_reference_off_the_claim() -> None:
    job_ref = {"apiVersion": "sftjob.dev/v1alpha1", "kind": "SFTJob", "name": "t", "uid": "u1"}
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u2"}
    claim = {"metadata": {"resourceVersion": "7", "ownerReferences": [job_ref, other]}}
    test = {"op": "test", "path": "/metadata/resourceVersion", "value": "7"}
    assert delete.detach_patch(claim, "u1") == [
        test,
        {"op": "replace", "path": "/metadata/ownerReferences", "value": [other]},
    ]
    alone = {"metadata": {"resourceVersion": "7", "ownerReferences": [job_ref]}}
    assert delete.detach_patch(alone, "u1") == [
        test,
        {"op": "remove", "path": "/metadata/ownerReferences"},
    ]


def test_keep_storage_of_a_job_without_a_claim_yet_has_nothing_to_keep() -> None:
    """A queued job has made no claim: before, the delete stopped there."""
    from types import SimpleNamespace as NS

    def missing(name: str, namespace: str) -> Any:
        raise ApiException(status=404, reason="Not Found")

    fake = NS(core=NS(read_namespaced_persistent_volume_claim=missing))
    job = {"metadata": {"name": "queued", "namespace": "ns", "uid": "u1"}}
    assert delete.keep_claim(fake, job) == (  # type: ignore[arg-type]
        "persistentvolumeclaim/queued-output does not exist: nothing to keep"
    )


@pytest.mark.parametrize("command", ["get", "describe x"])
def test_a_kubeconfig_that_is_not_yaml_is_one_line_naming_it(command: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.kubeconfig"
    broken.write_text("garbage: [\n")
    result = invoke(*command.split(), "--kubeconfig", str(broken))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"error: no usable kubeconfig in {broken}: ")
    assert "pass --kubeconfig FILE or set KUBECONFIG" in result.output
    assert result.output.count("\n") == 1


@pytest.mark.parametrize(
    ("manifest", "flag", "expected"),
    [("team-a", None, "team-a"), (None, "team-b", "team-b"), (None, None, "ctx"), ("a", "a", "a")],
)
def test_a_manifests_namespace_as_kubectl_decides_it(
    manifest: str | None, flag: str | None, expected: str
) -> None:
    assert manifest_namespace(manifest, flag, "ctx") == expected


def test_a_namespace_that_contradicts_the_manifest_is_refused() -> None:
    with pytest.raises(KubeError, match='manifest \\("other"\\) does not match -n "default"'):
        manifest_namespace("other", "default", "ctx")


@pytest.mark.parametrize("command", ["get -w --interval -1", "get -w --interval 0"])
def test_an_interval_below_half_a_second_is_a_usage_error(command: str) -> None:
    result = invoke(*command.split())
    assert result.exit_code == 2 and "--interval" in result.output


class StalledAndFailingSource:
    """Rank 0 follows a log that never ends (until closed); rank 1's stream fails."""

    def __init__(self) -> None:
        import threading

        self.closed = threading.Event()
        self.ended = threading.Event()

    def lines(self, pod: logs.Pod, follow: bool, tail: int | None = None) -> Any:
        if pod.rank == 1:
            raise kube.KubeError("logs of pod p-1: the node's kubelet cannot be reached")
        try:
            yield "step 1"
            if not self.closed.wait(30):
                yield "never closed"
            raise ConnectionResetError("closed under the read")
        finally:
            self.ended.set()

    def close(self) -> None:
        self.closed.set()


def test_one_failed_stream_closes_the_others_before_the_error() -> None:
    pods = [logs.Pod(f"p-{r}", "ns", r, f"node-{r}", "Running") for r in (0, 1)]
    source = StalledAndFailingSource()
    with pytest.raises(kube.KubeError, match="kubelet cannot be reached"):
        logs.stream_pods(source, pods, follow=True)  # type: ignore[arg-type]
    assert source.closed.is_set() and source.ended.is_set()  # rank 0's reader is over


@pytest.mark.parametrize("command", ["get", "describe x", f"submit {EXAMPLE}"])
def test_a_kubeconfig_that_is_not_text_is_one_line_naming_it(command: str, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\xff\xfe\x00\x01binary\x80")
    result = invoke(*command.split(), "--kubeconfig", str(garbage))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.output.startswith(f"error: no usable kubeconfig in {garbage}: not UTF-8 text")
    assert "pass --kubeconfig FILE or set KUBECONFIG" in result.output
    assert result.output.count("\n") == 1


def test_a_missing_kubeconfig_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "missing.yaml"
    result = invoke("get", "--kubeconfig", str(missing))
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"error: no usable kubeconfig in {missing}: no such file;")
    monkeypatch.setenv("KUBECONFIG", str(missing))
    result = invoke("get")
    assert result.output.startswith(f"error: no usable kubeconfig in {missing}: no such file;")


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("[1]", "metadata: expected a mapping with name (and namespace), got a list"),
        ("{name: tiny, labels: [a]}", "metadata.labels: expected a mapping of names to strings, got a list"),
        ("{name: tiny, labels: {v: 1}}", 'metadata.labels.v: expected a string, got a number; '
                                         'quote it ("1")'),
    ],
)  # fmt: skip
def test_submit_refuses_metadata_of_the_wrong_type_naming_it(
    tmp_path: Path, metadata: str, message: str
) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(f"apiVersion: sftjob.dev/v1alpha1\nkind: SFTJob\nmetadata: {metadata}\n")
    with pytest.raises(click.ClickException) as caught:
        submit.read_jobs(str(path), None, "ctx")
    assert caught.value.message == f"{path}: {message}"


@pytest.mark.parametrize("text", ["just a string\n", "- a\n- b\n"])
def test_a_kubeconfig_of_another_shape_says_what_a_kubeconfig_is(text: str, tmp_path: Path) -> None:
    odd = tmp_path / "odd.kubeconfig"
    odd.write_text(text)
    result = invoke("get", "--kubeconfig", str(odd))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(
        f"error: no usable kubeconfig in {odd}: not a kubeconfig (a YAML mapping of clusters, "
        "contexts and users)"
    )


def test_submit_says_what_is_wrong_with_its_file_before_it_connects(tmp_path: Path) -> None:
    bad = tmp_path / "job.yaml"
    bad.write_text("a: [\n")
    result = invoke("submit", str(bad), "--kubeconfig", str(tmp_path / "none"))
    assert result.exit_code == 1, result.output
    assert f"{bad}: not valid YAML" in result.output and "kubeconfig" not in result.output


@pytest.mark.parametrize("command", ["delete", "describe", "logs", "plot", "get"])
@pytest.mark.parametrize("name", ["", ".", "Tiny_Job"])
def test_a_name_that_is_not_an_sftjob_name_is_a_usage_error(
    command: str, name: str, tmp_path: Path
) -> None:
    """An empty name (an unset shell variable) or `.` addresses the collection: DELETE
    there deletes every job."""
    result = invoke(command, name, "--kubeconfig", str(kubeconfig(tmp_path)))
    assert result.exit_code == 2 and "is not an SFTJob name" in result.output, result.output


@pytest.mark.parametrize("value", ["nan", "inf", "1e308"])
def test_an_interval_that_is_no_number_of_seconds_is_a_usage_error(value: str) -> None:
    result = invoke("get", "-w", "--interval", value)
    assert result.exit_code == 2 and "--interval" in result.output, result.output


def test_an_answer_that_is_not_the_object_asked_for_is_one_line() -> None:
    """A proxy's login page answers 200 with HTML, which the client returns as text."""
    assert kube.answer({"kind": "SFTJob"}, "SFTJob", "get") == {"kind": "SFTJob"}
    with pytest.raises(
        KubeError, match=r"did not answer as a Kubernetes API server .* it sent str"
    ):
        kube.answer("<html>login</html>", "SFTJob", "get sftjob tiny")
    with pytest.raises(KubeError, match="it sent kind SFTJobList"):
        kube.answer({"kind": "SFTJobList"}, "SFTJob", "get sftjob x")


def test_a_404_without_an_object_means_the_cluster_has_no_sftjob_api() -> None:
    missing_type = ApiException(status=404, reason="Not Found")
    missing_type.body = "404 page not found"
    assert "the cluster has no SFTJob API (sftjobs.sftjob.dev)" in kube.describe_error(
        missing_type, "list sftjobs"
    )
    missing_job = ApiException(status=404, reason="Not Found")
    missing_job.body = (
        '{"message": "sftjobs.sftjob.dev \\"x\\" not found", "details": {"name": "x"}}'
    )
    assert kube.describe_error(missing_job, "get").startswith("not found: get: sftjobs")


def test_context_picks_one_where_current_context_is_unset(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path)
    config = yaml.safe_load(path.read_text())
    del config["current-context"]
    path.write_text(yaml.safe_dump(config))
    assert kube.connect(str(path), "dev", None).namespace == "team"
    result = invoke("get", "--kubeconfig", str(path))
    assert result.exit_code == 1 and "current-context" in result.output


def test_a_failing_credential_plugin_is_said_instead_of_a_refusal(tmp_path: Path) -> None:
    """The client logs the plugin's failure and sends the request without credentials."""
    path = kubeconfig(tmp_path)
    config = yaml.safe_load(path.read_text())
    config["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                 "command": str(tmp_path / "no-such-auth-plugin"), "interactiveMode": "Never"}
    }  # fmt: skip
    path.write_text(yaml.safe_dump(config))
    result = invoke("get", "--kubeconfig", str(path))
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: the kubeconfig's credential plugin failed: ")
    assert "ERROR:root" not in result.output and result.output.count("\n") == 1


def test_in_a_pod_without_a_kubeconfig_the_service_account_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubernetes.config import incluster_config

    token, ca, own = tmp_path / "token", tmp_path / "ca.crt", tmp_path / "namespace"
    token.write_text("sa-token")
    ca.write_text("not checked until a request")
    own.write_text("team-a\n")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setattr(kube, "SERVICE_ACCOUNT_NAMESPACE", str(own))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    connected = kube.connect(None, None, None)
    assert (connected.namespace, connected.context) == ("team-a", "in-cluster")
    assert connected.api_client.configuration.host == "https://10.0.0.1:443"
    assert kube.connect(None, None, "other").namespace == "other"
    # no token here: the in-cluster configuration's own reason, in one line
    token.unlink()
    result = invoke("get")
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "token file does not exist" in result.output.lower()


def test_a_name_too_long_says_so() -> None:
    result = invoke("delete", "a" * 254)
    assert result.exit_code == 2 and "must be no more than 253 characters" in result.output
