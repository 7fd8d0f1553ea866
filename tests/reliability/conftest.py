"""The fault suite uses the e2e fixtures too (the local node, the tiny assets and claims)."""

from tests.e2e.conftest import demo_claims, local_node, tiny_assets

__all__ = ["demo_claims", "local_node", "tiny_assets"]
