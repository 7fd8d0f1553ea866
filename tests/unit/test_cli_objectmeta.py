"""ObjectMeta's validation, in the apiserver's words."""

from __future__ import annotations

import pytest
from sftjob_cli.objectmeta import (
    label_value_errors,
    metadata_errors,
    namespace_errors,
    qualified_name_errors,
)


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("app", None),
        ("app.kubernetes.io/name", None),
        ("sftjob.dev/local-node", None),
        ("My_Key.1", None),
        ("bad key!", "name part must consist of alphanumeric characters"),
        ("/name", "prefix part must be non-empty"),
        ("Example.com/name", "prefix part a lowercase RFC 1123 subdomain"),
        ("example.com/", "name part must be non-empty"),
        ("a" * 64, "name part must be no more than 63 characters"),
        ("-lead", "name part must consist"),
    ],
)
def test_label_and_annotation_keys(key: str, said: str | None) -> None:
    errors = qualified_name_errors("metadata.labels", key)
    if said is None:
        assert errors == []
    else:
        (error,) = errors
        assert error.startswith(f'metadata.labels: Invalid value: "{key}": {said}')


@pytest.mark.parametrize(
    ("value", "ok"),
    [("", True), ("v1.2_x-3", True), ("a b", False), ("x" * 64, False), ("-a", False)],
)
def test_label_values(value: str, ok: bool) -> None:
    assert (label_value_errors("metadata.labels", value) == []) is ok


@pytest.mark.parametrize(
    ("namespace", "ok"), [("team-a", True), ("Team", False), ("a_b", False), ("n" * 64, False)]
)
def test_namespaces(namespace: str, ok: bool) -> None:
    assert (namespace_errors("metadata.namespace", namespace) == []) is ok


def test_every_problem_of_the_metadata_is_listed() -> None:
    meta = {"name": "j", "namespace": "Ns", "labels": {"ok": "fine", "bad key": "a b"},
            "annotations": {"owner!": "x", "note": "any text at all"}}  # fmt: skip
    fields = [e.split(":", 1)[0] for e in metadata_errors(meta)]
    assert fields == [
        "metadata.namespace", "metadata.labels", "metadata.labels", "metadata.annotations"
    ]  # fmt: skip


def test_annotation_keys_are_checked_in_lower_case_as_apimachinery_does() -> None:
    assert metadata_errors({"annotations": {"Example.COM/Owner": "team-a"}}) == []
    assert metadata_errors({"labels": {"Example.COM/Owner": "team-a"}}) != []
    (error,) = metadata_errors({"annotations": {"Bad Key": "x"}})
    assert error.startswith('metadata.annotations: Invalid value: "Bad Key": name part')
