"""Headless Service <job>: stable DNS names for the pods, used for rendezvous."""

from __future__ import annotations

from typing import Any

from sftjob_operator.api.identity import LABEL_JOB_NAME
from sftjob_operator.render import names
from sftjob_operator.render.meta import Owner, object_meta


def service(owner: Owner) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(owner, names.service(owner.name), "rendezvous"),
        "spec": {
            "clusterIP": "None",
            # Ranks resolve each other before any of them is Ready.
            "publishNotReadyAddresses": True,
            "selector": {LABEL_JOB_NAME: owner.name},
            "ports": [
                {"name": "rendezvous", "port": names.RENDEZVOUS_PORT, "protocol": "TCP"},
            ],
        },
    }
