"""One active operator among replicas: a coordination.k8s.io/v1 Lease held by the leader.

`lease.py` decides (pure), `elector.py` talks to the API server and runs kopf while the
Lease is held. See docs/architecture.md, "Two replicas".
"""
