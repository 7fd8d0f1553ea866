"""Kueue in the devcluster: the build recipe's pure parts and the rendered configuration."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from sftjob_devcluster import kueue
from sftjob_devcluster.build import BuildError
from sftjob_devcluster.kueue_build import (
    KUEUE_COMMAND,
    METRICS_CERT_DIR_ENV,
    check_no_replace,
    copy_module,
    kueue_cache_key,
    patched_main,
    wrapper_gomod,
)

MAIN = 'import (\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\t\tmetricsCertPath := "/etc/kueue/metrics/certs"\n}\n'

MANIFESTS = """
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: mutating-webhook-configuration
webhooks:
- name: mjob.kb.io
  clientConfig: {service: {name: webhook-service, namespace: system, path: /mutate-batch-v1-job}}
  rules: [{apiGroups: [batch], apiVersions: [v1], operations: [CREATE], resources: [jobs]}]
- name: mpod.kb.io
  clientConfig: {service: {name: webhook-service, namespace: system, path: /mutate--v1-pod}}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: validating-webhook-configuration
webhooks:
- name: vclusterqueue.kb.io
  clientConfig:
    service: {name: webhook-service, namespace: system, path: /validate-kueue-x-k8s-io-v1beta2-clusterqueue}
  rules: [{apiGroups: [kueue.x-k8s.io], apiVersions: [v1beta2], operations: [CREATE], resources: [clusterqueues]}]
- name: vappwrapper.kb.io
  clientConfig: {service: {name: webhook-service, namespace: system, path: /validate-appwrapper}}
  rules: [{apiGroups: [workload.codeflare.dev], apiVersions: [v1beta2], operations: [CREATE], resources: [appwrappers]}]
"""


def test_the_metrics_certificate_path_comes_from_the_environment() -> None:
    patched = patched_main(MAIN)
    assert f'metricsCertPath := os.Getenv("{METRICS_CERT_DIR_ENV}")' in patched
    assert "/etc/kueue" not in patched


def test_a_kueue_without_the_fixed_path_fails_the_build_with_what_to_do() -> None:
    with pytest.raises(BuildError, match=r"update kueue_build\.py"):
        patched_main(MAIN.replace("/etc/kueue/metrics/certs", "/elsewhere"))


def test_replace_directives_in_kueues_gomod_stop_the_build() -> None:
    check_no_replace("module sigs.k8s.io/kueue\n\nrequire k8s.io/api v0.35.3\n")
    with pytest.raises(BuildError, match="replace"):
        check_no_replace("module x\n\nreplace k8s.io/api => ../api\n")


def test_the_wrapper_module_declares_kueue_as_a_tool_and_the_key_follows_the_inputs() -> None:
    text = wrapper_gomod("v0.17.0", "1.25.0")
    assert "\tsigs.k8s.io/kueue v0.17.0\n" in text and f"tool {KUEUE_COMMAND}" in text
    assert "sigs.k8s.io/kueue => ./kueue" in text
    key = kueue_cache_key("v0.17.0", "go1.26.8")
    assert key.startswith("kueue-v0.17.0-")
    assert key != kueue_cache_key("v0.17.0", "go1.26.9") != kueue_cache_key("v0.18.0", "go1.26.8")


def test_only_kueue_and_job_webhooks_are_registered_by_url_with_the_ca() -> None:
    hooks = kueue.webhook_configurations(MANIFESTS, "https://127.0.0.1:9443", b"CA")
    by_kind = {h["kind"]: h for h in hooks}
    mutating = by_kind["MutatingWebhookConfiguration"]["webhooks"]
    validating = by_kind["ValidatingWebhookConfiguration"]["webhooks"]
    assert [w["name"] for w in mutating] == ["mjob.kb.io"]
    assert [w["name"] for w in validating] == ["vclusterqueue.kb.io"]
    assert mutating[0]["clientConfig"] == {
        "url": "https://127.0.0.1:9443/mutate-batch-v1-job",
        "caBundle": base64.b64encode(b"CA").decode(),
    }
    names = {h["metadata"]["name"] for h in hooks}
    assert all(n.startswith(kueue.WEBHOOK_CONFIG_PREFIX) for n in names)


def test_the_configuration_runs_kueue_on_loopback_without_its_own_certificates() -> None:
    config = kueue.configuration(9443, 8081, Path("/certs"))
    text = yaml.safe_load(yaml.safe_dump(config))
    assert text["webhook"] == {"host": "127.0.0.1", "port": 9443, "certDir": "/certs"}
    assert text["internalCertManagement"] == {"enable": False}
    assert text["integrations"]["frameworks"] == ["batch/job"]
    assert text["leaderElection"] == {"leaderElect": False}
    assert text["health"]["healthProbeBindAddress"] == "127.0.0.1:8081"


def test_the_module_copy_is_writable_where_the_module_cache_is_not(tmp_path: Path) -> None:
    source = tmp_path / "cache" / "kueue@v0.17.0"
    (source / "cmd" / "kueue").mkdir(parents=True)
    main = source / "cmd" / "kueue" / "main.go"
    main.write_text(MAIN)
    main.chmod(0o444)
    (source / "cmd" / "kueue").chmod(0o555)
    copy = tmp_path / "work" / "kueue"
    copy_module(source, copy)
    (copy / "cmd" / "kueue" / "main.go").write_text(patched_main(MAIN))
    (copy / "cmd" / "kueue" / "new").write_text("x")
    assert main.read_text() == MAIN
    (source / "cmd" / "kueue").chmod(0o755)
