"""The operator refuses to start without the admission policies it relies on: nothing would
keep trainer pods to their own job, or check an SFTJob's fields against each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.operator_fixtures import CRDS, OperatorProcess

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("policy", "file"),
    [
        ("sftjob-trainer-progress", "crds/trainer-policy.yaml"),
        ("sftjob-spec-rules", "crds/spec-policy.yaml"),
    ],
)
def test_the_operator_does_not_start_without_a_policy(
    devcluster: Any, crd: None, tmp_path: Path, policy: str, file: str
) -> None:
    devcluster.kubectl("delete", f"validatingadmissionpolicybinding/{policy}")
    proc = OperatorProcess(devcluster.kubeconfig, tmp_path)
    try:
        with pytest.raises(AssertionError, match="the operator exited") as exited:
            proc.start()
        assert f"ValidatingAdmissionPolicyBinding '{policy}' not found" in str(exited.value)
        assert f"kubectl apply --server-side -f {file}" in str(exited.value)
    finally:
        proc.kill()
        devcluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    proc.start()  # with the policy back, it starts
    proc.stop()
