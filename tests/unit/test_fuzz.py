"""The bad-input fuzzer's mutants (tests/reliability/fuzz.py): seeded, every kind made, and
what it calls a schema refusal is one (checked offline with `sftjob validate`'s admission)."""

from __future__ import annotations

import collections
from typing import Any

from sftjob_cli.apiserver import admit
from sftjob_cli.checks import default_policy
from sftjob_cli.crd import load_crd

from tests.reliability import fuzz
from tests.reliability.test_bad_input import BASE, spec_schema


def doc(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "sftjob.dev/v1alpha1",
        "kind": "SFTJob",
        "metadata": {"name": "m", "namespace": "d"},
        "spec": spec,
    }


def test_the_same_seed_makes_the_same_mutants() -> None:
    schema = spec_schema()
    assert fuzz.mutants(40, 7, BASE, schema) == fuzz.mutants(40, 7, BASE, schema)
    assert fuzz.mutants(40, 7, BASE, schema) != fuzz.mutants(40, 8, BASE, schema)


def test_every_kind_is_made_and_the_base_is_untouched() -> None:
    before = repr(BASE)
    made = fuzz.mutants(300, 1, BASE, spec_schema())
    assert set(collections.Counter(m.kind for m in made)) == set(fuzz.KINDS)
    assert repr(BASE) == before
    assert all(m.spec != BASE or m.kind in ("null", "combination") for m in made)


def test_the_base_is_valid_and_schema_kinds_are_refused_naming_the_field() -> None:
    crd, policy = load_crd(), default_policy()
    assert admit(doc(BASE), crd, policy).stage is None
    for m in fuzz.mutants(150, 2, BASE, spec_schema()):
        if m.kind not in fuzz.SCHEMA_KINDS:
            continue
        outcome = admit(doc(m.spec), crd, policy)
        assert outcome.stage in ("decode", "schema"), m
        assert any(m.paths[0].rsplit(".", 1)[0] in e for e in outcome.errors), (m, outcome)


def test_put_makes_the_way_to_a_field() -> None:
    spec: dict[str, Any] = {}
    fuzz.put(spec, ("env", 0, "valueFrom", "secretKeyRef"), {"name": "s"})
    assert spec == {"env": [{"valueFrom": {"secretKeyRef": {"name": "s"}}}]}
    assert fuzz.dotted(("env", 0, "name")) == "spec.env[0].name"
