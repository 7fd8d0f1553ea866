"""Session fixture: the tiny offline model and datasets, built once."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from sftjob_trainer.tinymodel import build

    return build(tmp_path_factory.mktemp("tiny"))
