"""The devcluster's audit log reader: completed writes, by namespace, after an offset."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from sftjob_devcluster import audit


def event(namespace: str, *, stage: str = "ResponseComplete", **ref: str) -> dict[str, object]:
    return {
        "kind": "Event",
        "stage": stage,
        "verb": "create",
        "userAgent": "kopf/1.38",
        "objectRef": {"resource": "configmaps", "namespace": namespace, "name": "c", **ref},
        "responseStatus": {"code": 201},
    }


def write_log(path: Path, events: list[dict[str, object]]) -> None:
    with path.open("a") as f:
        f.writelines(json.dumps(e, separators=(",", ":")) + "\n" for e in events)


def test_a_completed_write_is_read_with_its_subresource() -> None:
    got = audit.parse(event("ns", resource="sftjobs", subresource="status"))
    assert got == audit.Write("create", "sftjobs/status", "ns", "c", "kopf/1.38", 201)


def test_an_event_that_is_not_complete_or_names_no_object_is_no_write() -> None:
    assert audit.parse(event("ns", stage="ResponseStarted")) is None
    assert audit.parse({"stage": "ResponseComplete", "verb": "create"}) is None


def test_writes_after_an_offset_in_one_namespace(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    assert audit.end_offset(log) == 0 and list(audit.writes(log)) == []
    write_log(log, [event("a"), event("b")])
    offset = audit.end_offset(log)
    write_log(log, [event("a", name="later"), event("ab", name="other"), event("b")])
    with log.open("a") as f:
        f.write('{"stage":"ResponseComp')  # a line still being written
    assert [w.name for w in audit.writes(log, offset, "a")] == ["later"]
    assert len(list(audit.writes(log))) == 5


def test_the_policy_logs_writes_and_leaves_out_heartbeats() -> None:
    policy = yaml.safe_load(audit.POLICY)
    assert policy["kind"] == "Policy" and policy["rules"][-1] == {"level": "None"}
    logged = next(r for r in policy["rules"] if r["level"] == "Metadata")
    assert set(logged["verbs"]) == {"create", "update", "patch", "delete", "deletecollection"}
    skipped = {res for g in policy["rules"][0]["resources"] for res in g["resources"]}
    assert {"nodes", "leases"} <= skipped
