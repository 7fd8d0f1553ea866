"""The operator refuses to start where nothing would keep trainer pods to their own job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.operator_fixtures import CRDS, OperatorProcess

pytestmark = pytest.mark.integration


def test_the_operator_does_not_start_without_the_trainer_policy(
    devcluster: Any, crd: None, tmp_path: Path
) -> None:
    binding = "validatingadmissionpolicybinding/sftjob-trainer-progress"
    devcluster.kubectl("delete", binding)
    proc = OperatorProcess(devcluster.kubeconfig, tmp_path)
    try:
        with pytest.raises(AssertionError, match="the operator exited") as exited:
            proc.start()
        assert "ValidatingAdmissionPolicyBinding 'sftjob-trainer-progress' not found" in str(
            exited.value
        )
        assert "kubectl apply --server-side -f crds/trainer-policy.yaml" in str(exited.value)
    finally:
        proc.kill()
        devcluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    proc.start()  # with the policy back, it starts
    proc.stop()
