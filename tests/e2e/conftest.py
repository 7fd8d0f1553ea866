"""End-to-end fixtures: the devcluster's local node, tiny offline assets, demo claims.

The operator and CRD fixtures come from tests/operator_fixtures.py (registered in
tests/conftest.py); the steps are the demo's own (hack/demo.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import demo
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assets = tmp_path_factory.mktemp("tiny-assets")
    demo.build_tiny_assets(assets)
    return assets


@pytest.fixture
def demo_claims(
    devcluster: Any, namespace: str, tiny_assets: Path, tmp_path: Path, local_node: Path
) -> Iterator[Path]:
    """The example's two claims in the test's namespace; yields the output directory."""
    output = tmp_path / "output"
    objects = demo.demo_volumes(namespace, tiny_assets, output)
    demo.apply_objects(devcluster, objects)
    yield output
    volumes = [o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolume"]
    devcluster.kubectl("delete", "pv", *volumes, "--wait=false", check=False)
