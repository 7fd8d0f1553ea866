"""`sftjob render`: the operator's children of an SFTJob manifest.

The strongest check is the operator's own golden files (tests/golden/render): each golden
case, written as the SFTJob manifest a user would apply (its TRL config placed into the
four blocks, no defaults written), renders to exactly the golden children. The examples
render to what render_children() gives for the stored object, as the operator calls it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sftjob_cli.apiserver import decode
from sftjob_cli.checks import PLACEHOLDER_UID
from sftjob_cli.crd import load_crd
from sftjob_cli.kubeyaml import read_documents
from sftjob_cli.main import main
from sftjob_operator.api.normalize import normalize
from sftjob_operator.api.trl_fields import load_trl_fields
from sftjob_operator.render import render_children

from tests.unit.test_render_cases import CASES

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "render"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def render(*args: str) -> Result:
    return CliRunner().invoke(main, ["render", *args])


def manifest_of_case(body: dict[str, Any], trl_config: dict[str, Any]) -> dict[str, Any]:
    """The SFTJob a user writes for a golden case: each TRL key in its block."""
    fields = load_trl_fields()
    spec = dict(body["spec"])
    for key, value in trl_config.items():
        block = fields.block_of(key)
        assert block is not None, key
        spec.setdefault(block, {})[key] = value
    return {**body, "spec": spec}


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_gives_the_operators_golden_children(case: str, tmp_path: Path) -> None:
    path = tmp_path / f"{case}.yaml"
    path.write_text(yaml.safe_dump(manifest_of_case(*CASES[case])))
    result = render(str(path))
    assert result.exit_code == 0, result.output
    golden = list(yaml.safe_load_all((GOLDEN / f"{case}.yaml").read_text()))
    assert list(yaml.safe_load_all(result.stdout)) == golden


def stored(path: Path, namespace: str) -> dict[str, Any]:
    """The object as the apiserver stores it: read as kubectl sends it, defaults applied."""
    (doc,) = read_documents(str(path))
    meta = {**doc["metadata"], "namespace": namespace, "uid": PLACEHOLDER_UID}
    return decode({**doc, "metadata": meta}, load_crd()).stored


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_renders_as_the_operator_renders_it(path: Path) -> None:
    result = render(str(path), "-n", "team-a")
    assert result.exit_code == 0, result.output
    body = stored(path, "team-a")
    normalized = normalize(body["spec"])
    expected = render_children(body, normalized.trl_config, extensions=normalized.extensions)
    assert list(yaml.safe_load_all(result.stdout)) == expected
    assert {c["metadata"]["namespace"] for c in expected} == {"team-a"}


def test_n_fills_in_a_namespace_but_never_contradicts_the_manifests(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "tiny-cpu.yaml").read_text()
    path = tmp_path / "job.yaml"
    path.write_text(text.replace("name: tiny-cpu", "name: tiny-cpu\n  namespace: a", 1))
    contradicted = render("-n", "b", str(path))
    assert contradicted.exit_code == 1 and contradicted.stdout == ""
    assert 'the namespace of the manifest ("a") does not match -n "b": pass -n a' in (
        contradicted.stderr
    )
    same = render("-n", "a", str(path))
    assert {c["metadata"]["namespace"] for c in yaml.safe_load_all(same.stdout)} == {"a"}


def test_output_dir_gets_one_file_per_child(tmp_path: Path) -> None:
    path = ROOT / "examples" / "multi-node-deepspeed-zero3.yaml"
    printed = list(yaml.safe_load_all(render(str(path)).stdout))
    result = render(str(path), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    files = sorted((tmp_path / "out").iterdir())
    assert [f.name.split("-")[0] for f in files] == [f"{i:02d}" for i in range(1, len(files) + 1)]
    assert [yaml.safe_load(f.read_text()) for f in files] == printed
    assert {c["kind"] for c in printed} >= {"ConfigMap", "Service", "Job"}
    assert files[0].name == f"01-configmap-{printed[0]['metadata']['name']}.yaml"


def test_a_later_render_into_the_same_directory_removes_the_earlier_ones_files(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    assert render(str(ROOT / "examples" / "multi-node-deepspeed-zero3.yaml"), "-o", str(out))
    (out / "notes.yaml").write_text("mine: true\n")  # not a render's: kept
    # named as render names its files, but the user's own: kept
    (out / "00-namespace-ml.yaml").write_text("apiVersion: v1\nkind: Namespace\n")
    result = render(str(ROOT / "examples" / "tiny-cpu.yaml"), "-o", str(out))
    assert result.exit_code == 0, result.output
    kinds = sorted(str(yaml.safe_load(f.read_text()).get("kind")) for f in out.iterdir())
    assert kinds == ["ConfigMap", "Job", "Namespace", "None"]  # tiny-cpu's and the user's
    assert "(from an earlier render)" in result.stderr


def test_a_directory_that_cannot_be_written_leaves_nothing_behind(tmp_path: Path) -> None:
    path = ROOT / "examples" / "tiny-cpu.yaml"
    (tmp_path / "afile").write_text("")
    below_a_file = render(str(path), "-o", str(tmp_path / "afile" / "sub"))
    assert below_a_file.exit_code == 1
    assert "Not a directory; name a directory you can write to (nothing was written)" in (
        below_a_file.stderr
    )
    out = tmp_path / "out"
    (out / "02-job-tiny-cpu-a1.yaml").mkdir(parents=True)  # the Job's file name, taken
    taken = render(str(path), "-o", str(out))
    assert taken.exit_code == 1
    assert f"cannot write {out / '02-job-tiny-cpu-a1.yaml'}: Is a directory" in taken.stderr
    assert [p.name for p in out.iterdir()] == ["02-job-tiny-cpu-a1.yaml"]  # no ConfigMap file


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_standard_output_is_one_line_not_a_traceback() -> None:
    with open("/dev/full", "w") as full:
        run = subprocess.run(
            [sys.executable, "-c", "from sftjob_cli.main import main; main()", "render",
             str(ROOT / "examples" / "tiny-cpu.yaml")],
            stdout=full, stderr=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
    assert run.returncode == 1
    assert run.stderr == "Error: cannot write standard output: No space left on device\n"


def test_translations_go_to_stderr() -> None:
    result = render(str(ROOT / "examples" / "legacy-seed-config.yaml"))
    assert result.exit_code == 0, result.output
    assert "note: spec.sftConfig.evaluation_strategy was translated" in result.stderr
    assert "evaluation_strategy" not in result.stdout.split("trl.yaml")[1].split("kind:")[0]


def test_an_invalid_spec_renders_nothing() -> None:
    path = ROOT / "tests" / "data" / "invalid" / "conflicting-bf16-fp16.yaml"
    result = render(str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "spec.sftConfig.bf16 and spec.sftConfig.fp16 are both true" in result.stderr


def test_a_file_without_an_sftjob(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")
    result = render(str(path))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {path}: no SFTJob in it"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list\n", "not a Kubernetes object but a list"),
        (
            "apiVersion: sftjob.dev/v1alpha1\nkind: SFTJob\nmetadata: [1]\nspec: {}\n",
            "metadata: expected a mapping with name (and namespace), got a list",
        ),
    ],
)
def test_a_document_that_is_no_sftjob_is_named_by_its_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(text)
    result = render(str(path))
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert isinstance(result.exception, SystemExit)  # click's exit, not a crash
    assert result.stderr.strip() == f"Error: {path}: {message}"


def test_other_kinds_beside_an_sftjob_are_left_out_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "all.yaml"
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
    path.write_text(secret + "---\n" + (ROOT / "examples" / "tiny-cpu.yaml").read_text())
    result = render(str(path))
    assert result.exit_code == 0, result.output
    assert f"note: {path}#1: skipped: Secret is not an SFTJob" in result.stderr
