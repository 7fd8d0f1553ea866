"""`sftjob validate` agrees with the apiserver, offline, on the whole corpus the devcluster's
apiserver is tested with (tests/integration/test_crd.py): every manifest of
tests/data/invalid/ is refused by the apiserver's part of the check (strict decoding, the
CRD's schema and rules, the admission policy), naming the field its `# expect:` line
names; every updated manifest is refused as an update of its original (the policy's
immutability rules read oldObject), after the original was accepted; every example is
accepted, by the apiserver's part and by the operator's normalization."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sftjob_cli.apiserver import DECODE, POLICY, SCHEMA
from sftjob_cli.checks import check
from sftjob_cli.kubeyaml import read_documents
from sftjob_cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
EXAMPLES_TINY = ROOT / "examples" / "tiny-cpu.yaml"
INVALID = sorted((ROOT / "tests" / "data" / "invalid").glob("*.yaml"))
CREATES = [p for p in INVALID if "# update:" not in p.read_text()]
UPDATES = [p for p in INVALID if "# update:" in p.read_text()]
APISERVER_STAGES = (DECODE, SCHEMA, POLICY)


def expected_field(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("# expect: "):
            return line.removeprefix("# expect: ").strip()
    raise AssertionError(f"{path} has no '# expect: <field>' line")


def validate(*args: str) -> Result:
    return CliRunner().invoke(main, ["validate", *args])


def test_corpus_is_the_integration_tests_corpus() -> None:
    assert len(CREATES) >= 40
    assert len(UPDATES) >= 4
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", CREATES, ids=lambda p: p.stem)
def test_invalid_manifest_is_refused_naming_the_field(path: Path) -> None:
    (doc,) = read_documents(str(path))
    verdict = check(doc)
    assert verdict.stage in APISERVER_STAGES, f"{path.name}: {verdict}"
    assert expected_field(path) in "\n".join(verdict.errors)


@pytest.mark.parametrize("path", UPDATES, ids=lambda p: p.stem)
def test_update_of_training_settings_is_refused(path: Path) -> None:
    original, changed = read_documents(str(path))
    assert check(original).accepted
    assert check(changed).accepted, "as a create the changed manifest is valid"
    verdict = check(changed, old=original)
    assert verdict.stage == POLICY
    errors = "\n".join(verdict.errors)
    assert expected_field(path) in errors
    assert "immutable" in errors


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_accepted(path: Path) -> None:
    (doc,) = read_documents(str(path))
    verdict = check(doc)
    assert verdict.accepted, verdict.errors
    assert [c["kind"] for c in verdict.children][-1] == "Job"


def test_validate_exits_0_on_the_examples() -> None:
    result = validate(*map(str, EXAMPLES))
    assert result.exit_code == 0, result.output
    assert result.output.count(": valid") == len(EXAMPLES)


def test_validate_exits_1_naming_each_invalid_file() -> None:
    result = validate(str(EXAMPLES[0]), *map(str, CREATES))
    assert result.exit_code == 1
    for path in CREATES:
        line = next(x for x in result.output.splitlines() if x.startswith(f"{path}: "))
        assert ": invalid, refused by the " in line
    assert f"{EXAMPLES[0]}: SFTJob/" in result.output


def test_validate_old_checks_an_update(tmp_path: Path) -> None:
    path = ROOT / "tests" / "data" / "invalid" / "update-nodes.yaml"
    original, changed = yaml.safe_load_all(path.read_text())
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(original))
    (tmp_path / "new.yaml").write_text(yaml.safe_dump(changed))
    assert validate(str(tmp_path / "new.yaml")).exit_code == 0
    result = validate("--old", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"))
    assert result.exit_code == 1
    assert "refused by the admission policy" in result.output
    assert (
        "ValidatingAdmissionPolicy 'sftjob-spec-rules' with binding 'sftjob-spec-rules' denied "
        "request: spec.nodes is immutable" in result.output
    )


def test_a_file_of_several_documents(tmp_path: Path) -> None:
    docs: list[Any] = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}},
        yaml.safe_load((ROOT / "examples" / "tiny-cpu.yaml").read_text()),
        yaml.safe_load((ROOT / "tests" / "data" / "invalid" / "zero-nodes.yaml").read_text()),
    ]
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    result = validate(str(path))
    assert result.exit_code == 1
    assert f"{path}#1: skipped: Secret is not an SFTJob" in result.stderr
    assert f"{path}#2: SFTJob/tiny-cpu: valid" in result.stdout
    assert f"{path}#3: SFTJob/zero-nodes: invalid" in result.stdout


def test_quiet_prints_only_what_is_invalid() -> None:
    ok = validate("-q", str(EXAMPLES[0]))
    assert (ok.exit_code, ok.stdout) == (0, "")
    bad = validate("-q", str(CREATES[0]))
    assert bad.exit_code == 1 and bad.stdout


def billion_laughs(levels: int) -> str:
    """A ConfigMap whose aliases expand to 10**levels values."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    data = "".join(f"  {line}\n" for line in lines)
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\ndata:\n{data}"


@pytest.mark.parametrize(("levels", "refused"), [(5, False), (9, True)])
def test_aliases_that_expand_past_a_million_values_are_refused(
    tmp_path: Path, levels: int, refused: bool
) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs(levels))
    result = validate(str(path))
    assert ("expands to over 1,000,000 values through YAML aliases" in result.output) is refused
    assert "Traceback" not in result.output


def test_an_integer_past_int64_is_a_number_that_an_integer_field_refuses(tmp_path: Path) -> None:
    """Go's YAML library reads it as a float, so the apiserver names the field's type."""
    path = tmp_path / "job.yaml"
    path.write_text(
        EXAMPLES_TINY.read_text().replace("max_steps:", "max_steps: 99999999999999999999 #", 1)
    )
    result = validate(str(path))
    assert result.exit_code == 1
    assert "spec.sftConfig.max_steps in body must be of type integer" in result.output
    assert len(result.output) < 2000  # not every CEL rule's error with the whole spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("spec: [", "not valid YAML"),
        ("", "no Kubernetes object in it"),
        (
            "apiVersion: sftjob.dev/v9\nkind: SFTJob\n",
            'no matches for kind "SFTJob" in version "sftjob.dev/v9"; write apiVersion: sftjob.dev/v1alpha1',
        ),
        # a misspelled kind is not "another kind" to skip: kubectl refuses it
        (
            "apiVersion: sftjob.dev/v1alpha1\nkind: SFTjob\n",
            'no matches for kind "SFTjob" in version "sftjob.dev/v1alpha1"; write kind: SFTJob',
        ),
        (
            "apiVersion: v1\nkind: SftJob\n",
            "write kind: SFTJob and apiVersion: sftjob.dev/v1alpha1",
        ),
        (
            "kind: SFTJob\napiVersion: sftjob.dev/v1alpha1\nkind: SFTJob\n",
            "the key 'kind' is written twice in one mapping (first on line 1); keep one",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\ndata: " + "[" * 600 + "]" * 600 + "\n",
            "nested too deeply to be read",
        ),
        ("- a\n- b\n", "not a Kubernetes object"),
    ],
)
def test_bad_files_give_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    result = validate(str(path))
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_missing_file_gives_one_line(tmp_path: Path) -> None:
    result = validate(str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert result.output.strip() == f"{tmp_path / 'nope.yaml'}: no such file"


def test_unreadable_old_file_exits_2(tmp_path: Path) -> None:
    result = validate("--old", str(tmp_path / "nope.yaml"), str(EXAMPLES[0]))
    assert result.exit_code == 2
    assert "Error: --old" in result.stderr and "no such file" in result.stderr


def _update_pair(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    """The stored original of update-nodes.yaml, and its changed form (refused as an update)."""
    path = ROOT / "tests" / "data" / "invalid" / "update-nodes.yaml"
    original, changed = yaml.safe_load_all(path.read_text())
    (tmp_path / "new.yaml").write_text(yaml.safe_dump(changed))
    return original, tmp_path / "new.yaml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"--old .*old\.yaml: no SFTJob in it; pass the SFTJobs as stored"),
        ("# nothing\n---\n", r"--old .*old\.yaml: no SFTJob in it"),
        ("- a\n- b\n", r"--old .*old\.yaml: not a Kubernetes object but a list"),
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
            r"--old .*old\.yaml: no SFTJob in it",
        ),
        (
            "apiVersion: sftjob.dev/v1alpha1\nkind: SFTJob\nspec: {}\n",
            r"--old .*old\.yaml: an SFTJob without metadata\.name",
        ),
        (
            "apiVersion: sftjob.dev/v1alpha1\nkind: SFTJob\nmetadata: {name: j}\nspec: {nodes: 0}\n",
            r"--old .*old\.yaml: the stored SFTJob is not valid itself: .*spec\.nodes",
        ),
    ],
)
def test_an_old_file_without_an_sftjob_exits_2(tmp_path: Path, text: str, message: str) -> None:
    _, new = _update_pair(tmp_path)
    (tmp_path / "old.yaml").write_text(text)
    result = validate("--old", str(tmp_path / "old.yaml"), str(new))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    *notes, error = result.stderr.splitlines()
    assert error.startswith("Error: --old ") and re.search(message, error), result.stderr
    assert all(note.startswith("note: --old ") for note in notes), result.stderr


def test_a_job_with_no_namesake_in_old_is_a_create_with_a_note(tmp_path: Path) -> None:
    original, new = _update_pair(tmp_path)
    other = {**original, "metadata": {**original["metadata"], "name": "other"}}
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(other))
    result = validate("--old", str(tmp_path / "old.yaml"), str(new))
    assert result.exit_code == 0, result.output
    name = original["metadata"]["name"]
    assert f"{new}: SFTJob/{name}: valid" in result.stdout
    assert (
        f"note: {new}: SFTJob/{name}: no SFTJob of that name in --old {tmp_path / 'old.yaml'} "
        "(it has: other); checked as a create" in result.stderr
    )


def test_a_namesake_in_another_namespace_is_not_the_stored_object(tmp_path: Path) -> None:
    original, new = _update_pair(tmp_path)
    elsewhere = {**original, "metadata": {**original["metadata"], "namespace": "team-b"}}
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(elsewhere))
    result = validate("--old", str(tmp_path / "old.yaml"), "-n", "team-a", str(new))
    assert result.exit_code == 0, result.output
    assert "(it has: team-b/" in result.stderr and "checked as a create" in result.stderr
    # without -n the manifest's namespace is unknown offline: the namesake is the stored one
    result = validate("--old", str(tmp_path / "old.yaml"), str(new))
    assert result.exit_code == 1 and "spec.nodes is immutable" in result.output


def test_namesakes_in_old_are_chosen_by_namespace_unless_one_namespace_has_two(
    tmp_path: Path,
) -> None:
    original, new = _update_pair(tmp_path)
    in_a, in_b = (
        {**original, "metadata": {**original["metadata"], "namespace": ns}} for ns in "ab"
    )
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump_all([in_a, in_b]))
    ambiguous = validate("--old", str(old), str(new))
    assert ambiguous.exit_code == 2
    assert "in several namespaces (a, b); pass -n NAMESPACE to choose" in ambiguous.stderr
    chosen = validate("--old", str(old), "-n", "a", str(new))
    assert chosen.exit_code == 1 and "spec.nodes is immutable" in chosen.output
    old.write_text(yaml.safe_dump_all([in_a, in_a]))
    twice = validate("--old", str(old), "-n", "a", str(new))
    assert twice.exit_code == 2
    assert "more than once in one namespace; a cluster stores one object per name" in (twice.stderr)


def test_old_may_be_a_kubectl_list(tmp_path: Path) -> None:
    original, new = _update_pair(tmp_path)
    listed = {"apiVersion": "v1", "kind": "List", "items": [original], "metadata": {}}
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(listed))
    result = validate("--old", str(tmp_path / "old.yaml"), str(new))
    assert result.exit_code == 1, result.output
    assert "spec.nodes is immutable" in result.output


def test_metadata_that_is_not_a_mapping_is_refused_naming_it(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "examples" / "tiny-cpu.yaml").read_text())
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump({**doc, "metadata": [1]}))
    result = validate(str(path))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # click's exit, not a crash
    assert (
        f"{path}: invalid: metadata: expected a mapping with name (and namespace), got a list"
        in result.stdout
    )


def test_other_kinds_in_old_are_left_out_with_a_note(tmp_path: Path) -> None:
    original, new = _update_pair(tmp_path)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    (tmp_path / "old.yaml").write_text(yaml.safe_dump_all([secret, original]))
    result = validate("--old", str(tmp_path / "old.yaml"), str(new))
    assert result.exit_code == 1 and "spec.nodes is immutable" in result.output
    assert f"note: --old {tmp_path / 'old.yaml'}#1: skipped: Secret is not an SFTJob" in (
        result.stderr
    )


def test_a_kubectl_list_is_checked_item_by_item(tmp_path: Path) -> None:
    """kubectl apply opens a List: each SFTJob in it is checked, as render does too."""
    good = yaml.safe_load(EXAMPLES_TINY.read_text())
    bad = {**good, "metadata": {"name": "bad"}, "spec": {**good["spec"], "nodes": 0}}
    listed = {"apiVersion": "v1", "kind": "List", "items": [good, bad]}
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump(listed))
    result = validate(str(path))
    assert result.exit_code == 1, result.output
    assert f"{path}: items[0]: SFTJob/{good['metadata']['name']}: valid" in result.output
    assert f"{path}: items[1]: SFTJob/bad: invalid" in result.output
    rendered = CliRunner().invoke(main, ["render", str(path)])
    assert rendered.exit_code == 1 and f"{path}: items[1]" in rendered.output


def test_a_string_field_holding_a_boolean_or_number_gets_a_quoting_hint(tmp_path: Path) -> None:
    doc = yaml.safe_load(EXAMPLES_TINY.read_text())
    doc["spec"].pop("podTemplate", None)
    path = tmp_path / "job.yaml"
    # unquoted, as a user writes them: kubectl reads `on` as true and 1e3 as a number
    extra = "  image: 1e3\n  podTemplate:\n    nodeSelector: {gpu: on}\n"
    path.write_text(yaml.safe_dump(doc).replace("spec:\n", "spec:\n" + extra, 1))
    result = validate(str(path))
    assert result.exit_code == 1, result.output
    assert (
        "  hint: spec.podTemplate.nodeSelector.gpu: quote the value; kubectl reads an unquoted "
        "yes, no, on, off, y or n as a boolean"
    ) in result.output
    assert "  hint: spec.image: quote the value; kubectl reads an unquoted 1e3" in result.output
