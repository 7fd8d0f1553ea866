"""PersistentVolumeClaim <job>-output, when spec.storage.size asks for one."""

from __future__ import annotations

from typing import Any

from sftjob_operator.render import names
from sftjob_operator.render.errors import RenderError
from sftjob_operator.render.meta import Owner, object_meta
from sftjob_operator.render.plan import Plan
from sftjob_operator.render.quantity import sign_problem


def pvc(owner: Owner, plan: Plan) -> dict[str, Any] | None:
    storage = plan.storage
    if not storage.get("size") and storage.get("size") != 0:
        return None
    if problem := sign_problem(storage["size"], positive=True):
        raise RenderError(
            "spec.storage.size", f"{problem}: a claim needs a size; write one such as 50Gi"
        )
    mode = storage.get("accessMode") or ("ReadWriteMany" if plan.nodes > 1 else "ReadWriteOnce")
    if plan.nodes > 1 and mode != "ReadWriteMany":
        raise RenderError(
            "spec.storage.accessMode",
            f"{mode} cannot be shared by the {plan.nodes} nodes of this job, which all read "
            "and write the same checkpoints; write ReadWriteMany or leave accessMode out",
        )
    spec: dict[str, Any] = {
        "accessModes": [mode],
        "resources": {"requests": {"storage": str(storage["size"])}},
    }
    if storage.get("storageClassName"):
        spec["storageClassName"] = storage["storageClassName"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        # A retained claim has no owner, so garbage collection leaves it alone.
        "metadata": object_meta(
            owner, names.pvc(owner.name), "output", owned=not storage.get("retain", False)
        ),
        "spec": spec,
    }


def claim_name(owner: Owner, plan: Plan) -> str | None:
    """The claim mounted at /workspace/output, or None for an emptyDir."""
    if plan.storage.get("claimName"):
        return str(plan.storage["claimName"])
    if plan.storage.get("size"):
        return names.pvc(owner.name)
    return None
