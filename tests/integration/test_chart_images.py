"""Every image, command and argument the chart renders exists for real: the image is one
the repository's Dockerfiles build (under the tag the README's `docker build` lines give
it), the command is that Dockerfile's ENTRYPOINT and a console script the image installs,
and the arguments are accepted by that entry point's own parser, naming the ports the
container declares. The local node agent's image table (the devcluster's stand-in for
those images) must agree with the Dockerfiles too.

Needs only the helm binary (built from Go modules by `sftjob-devcluster build`).
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sftjob_devcluster.nodeagent.envresolve import expand
from sftjob_devcluster.nodeagent.images import LOCAL_IMAGES, local_image, repository_of
from sftjob_operator.api.spec import DEFAULT_IMAGE
from sftjob_operator.cli import parse_args

from tests.integration.test_helm_chart import CHART, container_of, helm, template  # noqa: F401

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = {
    "default": {},
    "two replicas": {"replicas": 2},
    "no election": {"leaderElection": {"enabled": False}},
    "watched namespaces, other ports": {
        "watchNamespaces": ["team-a", "team-b"],
        "livenessPort": 9090,
        "metrics": {"port": 9091},
        "extraArgs": ["--straggler-grace", "60"],
    },
    "own image": {"image": {"repository": "ghcr.io/sftjob/operator", "tag": "0.1.0"}},
}


def dockerfile_instruction(dockerfile: Path, name: str) -> list[str]:
    """The JSON (exec) form of the last ENTRYPOINT or CMD."""
    lines = [ln for ln in dockerfile.read_text().splitlines() if ln.startswith(f"{name} ")]
    assert lines, f"{dockerfile} has no {name}"
    return list(json.loads(lines[-1][len(name) + 1 :]))


def docker_build_tags(text: str) -> dict[str, str]:
    """`docker build [-f FILE] -t TAG ...` lines -> {repository: Dockerfile path}."""
    out = {}
    lines = [ln.strip().lstrip("#").strip() for ln in text.splitlines()]
    joined = "\n".join(lines).replace("\\\n", " ")  # continuation lines
    for line in joined.splitlines():
        if not line.startswith("docker build"):
            continue
        argv = shlex.split(line)
        file = argv[argv.index("-f") + 1] if "-f" in argv else "Dockerfile"
        tag = argv[argv.index("-t") + 1]
        out[repository_of(tag)] = file
    return out


def console_scripts() -> dict[str, str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return dict(pyproject["project"]["scripts"])


def test_the_agents_image_table_agrees_with_the_dockerfiles() -> None:
    scripts = console_scripts()
    for image in LOCAL_IMAGES:
        dockerfile = ROOT / image.dockerfile
        assert dockerfile.is_file(), image
        assert tuple(dockerfile_instruction(dockerfile, "ENTRYPOINT")) == image.entrypoint
        assert image.entrypoint[0] in scripts, f"{image.entrypoint[0]} is no console script"
        # The Dockerfile's own build line tags the image the table names.
        assert docker_build_tags(dockerfile.read_text()).get(image.repository) == image.dockerfile


def test_the_readme_builds_every_image_from_its_dockerfile() -> None:
    readme = docker_build_tags((ROOT / "README.md").read_text())
    assert readme == {i.repository: i.dockerfile for i in LOCAL_IMAGES}
    # The trainer image the operator puts into pods by default is one of them.
    assert local_image(DEFAULT_IMAGE) is not None


@pytest.mark.parametrize("values", VARIANTS.values(), ids=list(VARIANTS))
def test_the_chart_runs_what_the_operator_image_contains(
    helm: Path,  # noqa: F811
    values: dict[str, Any],
) -> None:
    container = container_of(template(helm, "r", "ops", values))
    image = local_image(container["image"])
    assert image is not None, f"{container['image']} is built by no Dockerfile here"
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert container["image"].endswith(
        f":{values.get('image', {}).get('tag') or chart['appVersion']}"
    )
    assert tuple(container["command"]) == image.entrypoint
    assert console_scripts()[image.entrypoint[0]] == "sftjob_operator.entry:main"
    # The Dockerfile installs the operator extra, whose console script this is.
    assert re.search(r'"sftjob-operator\[operator\]"', (ROOT / image.dockerfile).read_text())
    env = {e["name"]: f"<{e['name']}>" for e in container.get("env") or []}
    args = [expand(a, env.get) for a in container["args"]]
    assert not [a for a in args if "$(" in a], "an argument names an env var the pod lacks"
    options = parse_args(args)  # exits (fails the test) on any argument it does not know
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert urlsplit(options.liveness).port == ports["liveness"]
    assert urlsplit(options.metrics).port == ports["metrics"]
    assert container["livenessProbe"]["httpGet"]["port"] == "liveness"
    assert container["livenessProbe"]["httpGet"]["path"] == urlsplit(options.liveness).path
    assert options.namespaces == tuple(values.get("watchNamespaces", ()))
    if values.get("leaderElection", {}).get("enabled", True):
        assert options.election is not None and options.election.identity.startswith("<POD_NAME>_")
    else:
        assert options.election is None


def test_the_dockerfiles_default_arguments_parse() -> None:
    for image in LOCAL_IMAGES:
        if image.repository.endswith("/operator"):
            parse_args(dockerfile_instruction(ROOT / image.dockerfile, "CMD"))
