"""The Argo CD health check's copies (the chart's argocd-cm patch, docs/gitops.md) are
generated from hack/argocd/health.lua and carry its exact text."""

from __future__ import annotations

from pathlib import Path

import gen_argocd
import pytest
import yaml


def test_committed_copies_match_the_generator() -> None:
    for path, text in gen_argocd.outputs().items():
        assert path.read_text() == text, f"{path} is out of date: run `make crd`"


def test_the_patch_carries_the_script_under_argo_cds_key() -> None:
    patch = yaml.safe_load(gen_argocd.CHART_PATCH.read_text())
    assert patch == {
        "data": {"resource.customizations.health.sftjob.dev_SFTJob": gen_argocd.SOURCE.read_text()}
    }
    assert gen_argocd.CHART_PATCH.read_text() in gen_argocd.DOC.read_text()


def test_check_mode_reports_a_stale_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stale = tmp_path / "argocd-cm-patch.yaml"
    stale.write_text("data: {}\n")
    monkeypatch.setattr(gen_argocd, "outputs", lambda: {stale: "data: {x: y}\n"})
    assert gen_argocd.main(["--check"]) == 1
    assert gen_argocd.main([]) == 0
    assert gen_argocd.main(["--check"]) == 0
