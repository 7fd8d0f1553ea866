"""The SFTJob CRD the CLI validates against: the generated crds/sftjob.yaml.

hack/gen_crd.py builds the schema from the pinned TRL and transformers dataclasses, which
the CLI does not install, so the CLI reads the generated file instead of running the
generator: `sftjob-crd.yaml` in this package is a link to crds/sftjob.yaml, and a wheel
holds a copy of it (setuptools copies the file a link points to). One source, no copy
in the repository to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

CRD_RESOURCE = "sftjob-crd.yaml"


@dataclass(frozen=True)
class Crd:
    group: str
    kind: str
    plural: str
    versions: tuple[str, ...]
    schema: dict[str, Any]  # the openAPIV3Schema of the storage version

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.versions[0]}"

    def matches(self, api_version: Any, kind: Any) -> bool:
        return kind == self.kind and api_version in {f"{self.group}/{v}" for v in self.versions}


def crd_text() -> str:
    return resources.files("sftjob_cli").joinpath(CRD_RESOURCE).read_text(encoding="utf-8")


def crd_from_manifest(manifest: dict[str, Any]) -> Crd:
    spec = manifest["spec"]
    served = [v for v in spec["versions"] if v.get("served")]
    storage = next(v for v in served if v.get("storage"))
    return Crd(
        group=spec["group"],
        kind=spec["names"]["kind"],
        plural=spec["names"]["plural"],
        versions=tuple(v["name"] for v in served),
        schema=storage["schema"]["openAPIV3Schema"],
    )


@cache
def load_crd() -> Crd:
    return crd_from_manifest(yaml.safe_load(crd_text()))
