"""Local paths in trl.yaml that are not there: refused before anything loads."""

from __future__ import annotations

from pathlib import Path

from sftjob_trainer.local_paths import is_local, local_data, missing_paths


def test_only_local_paths_are_checked() -> None:
    assert [is_local(v) for v in ("/m", "./m", "../m", "~/m")] == [True] * 4
    assert [is_local(v) for v in ("Qwen/Qwen2.5-0.5B", "json", "", None, 3)] == [False] * 5


def test_every_missing_local_path_is_named_with_its_key(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "a.jsonl").write_text("{}\n")
    gone = str(tmp_path / "gone")
    config = {
        "model_name_or_path": str(tmp_path / "model"),  # there
        "dataset_name": "trl-lib/Capybara",  # a Hub name
        "chat_template_path": gone + "/t.jinja",
        "deepspeed": gone + "/ds.json",
        "datasets": [
            {"path": "json", "data_files": [str(tmp_path / "a.jsonl"), gone + "/b.jsonl"]},
            {"path": "json", "data_files": {"train": gone + "/*.jsonl"}},  # a glob: datasets'
            {"path": gone},
            "not a mapping",
            # relative files resolve against path or data_dir, which datasets does
            {"path": "json", "data_dir": str(tmp_path), "data_files": "./train/x.jsonl"},
        ],
    }
    assert missing_paths(config) == [
        f"trl.yaml: `{key}: {path}`: no such file or directory here; mount it at that path "
        "(a podTemplate volume, or the job's storage), or write a Hub name"
        for key, path in (
            ("chat_template_path", gone + "/t.jinja"),
            ("deepspeed", gone + "/ds.json"),
            ("datasets[0].data_files", gone + "/b.jsonl"),
            ("datasets[2].path", gone),
        )
    ]
    assert missing_paths({"model_name_or_path": str(tmp_path / "model")}) == []


def test_local_data_is_a_local_dataset_name_or_files_of_a_mixture() -> None:
    assert local_data({"dataset_name": "/data/x"})
    assert local_data({"datasets": [{"path": "json", "data_files": "train.jsonl"}]})
    assert local_data({"datasets": [{"path": "./x"}]})
    assert not local_data({"dataset_name": "trl-lib/Capybara"})
    assert not local_data({"datasets": [{"path": "trl-lib/Capybara"}, "junk"]})
