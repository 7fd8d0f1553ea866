"""Local paths in trl.yaml that are not there: refused before anything loads."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sftjob_trainer.local_paths import (
    dataset_file_problem,
    is_local,
    local_data,
    missing_paths,
    model_dir_problem,
)


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
    # a Hub dataset's data files, and remote ones, are not files here
    assert not local_data({"datasets": [{"path": "org/data", "data_files": "train-*.parquet"}]})
    remote = {"train": ["hf://datasets/org/data/train.jsonl"]}
    assert not local_data({"datasets": [{"path": "json", "data_files": remote}]})


def _files(folder: Path, *names: str, text: str = "{}") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(text)
    return folder


def test_a_model_directory_that_cannot_be_trained_from_is_named(tmp_path: Path) -> None:
    model = _files(tmp_path / "model", "config.json", "model.safetensors", "tokenizer.json")
    assert model_dir_problem(str(model)) is None
    assert model_dir_problem(str(tmp_path / "missing")) is None  # missing_paths says so
    assert model_dir_problem("Qwen/Qwen2.5-0.5B") is None
    empty = _files(tmp_path / "empty")
    assert "has no config.json, so no model loads from it" in str(model_dir_problem(str(empty)))
    untokenized = _files(tmp_path / "weights-only", "config.json", "model.safetensors")
    assert "has no tokenizer" in str(model_dir_problem(str(untokenized)))


def test_a_lora_adapter_names_its_base_model(tmp_path: Path) -> None:
    adapter = _files(
        tmp_path / "out",
        "adapter_config.json",
        text='{"base_model_name_or_path": "Qwen/Qwen2.5-0.5B", "r": 8}',
    )
    assert model_dir_problem(str(adapter)) == (
        f"trl.yaml: `model_name_or_path: {adapter}` is a LoRA adapter (adapter_config.json), "
        "not a model; write its base model (Qwen/Qwen2.5-0.5B) as model_name_or_path, or merge "
        "the adapter into it first"
    )


def test_a_dataset_name_that_is_a_file_is_told_how_to_load_it(tmp_path: Path) -> None:
    data = _files(tmp_path / "data", "train.jsonl", "train.parquet")
    assert dataset_file_problem(str(data)) is None
    assert dataset_file_problem("trl-lib/Capybara") is None
    assert str(dataset_file_problem(str(data / "train.jsonl"))).endswith(
        f"`datasets: [{{path: json, data_files: {data}/train.jsonl}}]`"
    )
    assert f"{{path: parquet, data_files: {data}/train.parquet}}" in str(
        dataset_file_problem(str(data / "train.parquet"))
    )
    (data / "notes.txt").write_text("a line")
    assert f"{{path: text, data_files: {data}/notes.txt}}" in str(
        dataset_file_problem(str(data / "notes.txt"))
    )
    (data / "rows.tsv").write_text("a\tb")
    assert str(dataset_file_problem(str(data / "rows.tsv"))).endswith(
        "point it at the file's directory"
    )  # no builder is guessed for a suffix datasets has none for


def test_local_data_that_cannot_load_is_a_config_error(tmp_path: Path, monkeypatch: Any) -> None:
    """A malformed row, a directory with no data files: the same on every restart."""
    import datasets
    from sftjob_trainer.config_check import ConfigError
    from sftjob_trainer.train import training_data

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    bad = _files(tmp_path / "bad", "train.jsonl", text='{"text": "a"}\n{"text": "b\n')
    empty = _files(tmp_path / "empty", "README.md", text="# nothing")
    for folder, said in ((bad, "JSON parse error"), (empty, "EmptyDatasetError")):
        script = SimpleNamespace(
            dataset_name=str(folder), dataset_config=None, dataset_streaming=False,
            dataset_train_split="train", dataset_test_split="test",
        )  # fmt: skip
        training = SimpleNamespace(deepspeed=None, chat_template_path=None)
        model = SimpleNamespace(model_name_or_path="Qwen/Qwen2.5-0.5B")
        mixture = SimpleNamespace(datasets=[])
        with pytest.raises(ConfigError, match=f"trl.yaml: {folder}: .*{said}.*fix the data"):
            training_data(script, training, model, mixture, {})


def test_the_evaluation_splits_columns_are_checked_too(monkeypatch: Any) -> None:
    import datasets
    from sftjob_trainer import train
    from sftjob_trainer.config_check import ConfigError

    loaded = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list([{"text": "a"}]),
            "test": datasets.Dataset.from_list([{"question": "q", "answer": "a"}]),
        }
    )
    monkeypatch.setattr(train, "load_datasets", lambda *args: loaded)
    script = SimpleNamespace(
        dataset_name="org/data", dataset_train_split="train", dataset_test_split="test"
    )
    training = SimpleNamespace(deepspeed=None, chat_template_path=None, dataset_kwargs=None,
                               dataset_text_field="text", eval_strategy="steps",
                               completion_only_loss=None, assistant_only_loss=False)  # fmt: skip
    model = SimpleNamespace(model_name_or_path="Qwen/Qwen2.5-0.5B")
    said = r"the `test` split of org/data \(the evaluation data\) has the columns `question`"
    with pytest.raises(ConfigError, match=said):
        train.training_data(script, training, model, SimpleNamespace(datasets=[]), {})
