"""The agent's one table of images: which local entry point stands for each image the
project builds (pure).

The agent has no container runtime. A container of a listed image runs its command (or,
when it has none, the image's ENTRYPOINT below) from the agent's own Python environment,
where `pip install -e .` put the same console scripts the Dockerfile installs. The agent
logs the mapping when it starts the container and reports it as the container's imageID
(`local://<entry point path>`). A container of any other image runs its command as
written, found on the same PATH.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import PodRejected


@dataclass(frozen=True)
class LocalImage:
    repository: str
    # The Dockerfile that builds the real image, relative to the repository root; a unit
    # test checks that its ENTRYPOINT is `entrypoint`.
    dockerfile: str
    entrypoint: tuple[str, ...]
    # Run in a network namespace of its own (loopback, and the API server relayed at the
    # address the pod's env names), as a pod on a real node would. Several replicas of a
    # Deployment then listen on the same ports without colliding. Pods of images without
    # it share the host's network (the trainer's ranks reach each other through it).
    own_network: bool


LOCAL_IMAGES: tuple[LocalImage, ...] = (
    LocalImage("ghcr.io/sftjob/operator", "Dockerfile", ("sftjob-operator",), own_network=True),
    LocalImage(
        "ghcr.io/sftjob/trainer", "trainer_image/Dockerfile", ("sftjob-train",), own_network=False
    ),
)


def repository_of(image: str) -> str:
    """`registry/name:tag` or `registry/name@sha256:...` -> `registry/name`."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def local_image(image: str) -> LocalImage | None:
    repository = repository_of(image)
    return next((i for i in LOCAL_IMAGES if i.repository == repository), None)


def image_argv(container: Mapping[str, Any], field: str) -> list[str]:
    """The container's command and args, the listed image's ENTRYPOINT standing in for a
    missing command, as a container runtime would."""
    command = list(container.get("command") or [])
    if not command:
        mapped = local_image(str(container.get("image", "")))
        if mapped is None:
            raise PodRejected(
                f"{field}.command",
                f"image {container.get('image')!r} is not in the local node agent's table "
                "(nodeagent/images.py), so its ENTRYPOINT is unknown; write the command",
            )
        command = list(mapped.entrypoint)
    return command + list(container.get("args") or [])


def image_id(image: str, argv0: str, path: str) -> str:
    """The imageID the agent reports: the entry point that stands for a listed image."""
    if local_image(image) is None:
        return ""
    return f"local://{shutil.which(argv0, path=path) or argv0}"


def own_network(pod: Mapping[str, Any]) -> bool:
    """Whether the pod runs in its own network namespace (every container of a listed
    image with own_network); only single-container pods can, since the agent keeps no
    shared namespace for a pod's containers."""
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or [])
    mapped = [local_image(str(c.get("image", ""))) for c in containers]
    if not any(m is not None and m.own_network for m in mapped):
        return False
    if len(containers) != 1 or spec.get("initContainers"):
        raise PodRejected(
            "spec.containers",
            "the local node agent gives a network namespace of its own only to pods of a "
            "single container and no init containers; split the pod",
        )
    return not spec.get("hostNetwork")
