"""The two ways a pod can fail to start on the local node."""

from __future__ import annotations


class _FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ConfigError(_FieldError):
    """Not startable yet (a missing Secret, an unbound claim): the pod stays Pending and
    the agent retries, as a kubelet does (CreateContainerConfigError, ContainerCreating)."""


class PodRejected(_FieldError):
    """Never startable on this node (an unsupported volume or restart policy): the pod fails."""
