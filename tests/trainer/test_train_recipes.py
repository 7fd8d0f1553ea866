"""Recipe extensions in a real trainer: handbook mixture weights and an inline chat template.

The operator writes the weights into sftjob.yaml beside trl.yaml and the template into
chat_template.jinja (tests/unit/test_recipe_forms.py and test_render.py cover that half);
here the trainer reads them as a pod would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from trainer_helpers import base_config, pod_env, run_trainer, write_yaml

pytestmark = pytest.mark.trainer


def test_weighted_mixture_trains_on_exactly_the_weighted_rows(tiny: Any, tmp_path: Path) -> None:
    from sftjob_trainer.tinymodel import text_rows

    rows = len(text_rows())
    data = str(tiny.text_data / "train.jsonl")
    mixture = [{"path": "json", "data_files": data, "split": "train"}] * 2
    config = base_config(
        tiny,
        tmp_path / "output",
        dataset_name=None,
        datasets=mixture,
        max_steps=-1,
        num_train_epochs=1,
        per_device_train_batch_size=1,
    )
    del config["dataset_name"]
    path = write_yaml(tmp_path / "trl.yaml", config)
    write_yaml(tmp_path / "sftjob.yaml", {"dataset_weights": [0.5, 1.0], "mixture_seed": 3})
    run = run_trainer(path, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    # One row per step: int(49 * 0.5) + 49 rows, as the alignment-handbook kept them.
    assert run.finished_steps() == {0: int(rows * 0.5) + rows}


def test_weighted_mixture_keeps_a_seeded_shuffle_of_each_dataset(tiny: Any) -> None:
    import datasets
    from sftjob_trainer.mixture import handbook_mixture
    from trl import DatasetMixtureConfig

    data = str(tiny.text_data / "train.jsonl")
    config = DatasetMixtureConfig(
        datasets=[{"path": "json", "data_files": data, "split": "train"}],  # type: ignore[list-item]
    )
    full = datasets.load_dataset("json", data_files=data, split="train")["text"]

    def kept(seed: int) -> list[str]:
        settings = {"dataset_weights": [0.5], "mixture_seed": seed}
        return list(handbook_mixture(config, settings)["train"]["text"])

    first, again, other = kept(1), kept(1), kept(2)
    assert first == again and len(first) == len(full) // 2
    assert set(first) <= set(full) and first != full[: len(first)] and first != other


def test_test_datasets_become_the_test_split_whole(tiny: Any) -> None:
    from sftjob_trainer.mixture import handbook_mixture
    from trl import DatasetMixtureConfig

    text = {"path": "json", "data_files": str(tiny.text_data / "train.jsonl"), "split": "train"}
    chat = {"path": "json", "data_files": str(tiny.messages_data / "train.jsonl"), "split": "train"}
    config = DatasetMixtureConfig(datasets=[text, chat])  # type: ignore[list-item]
    settings = {"dataset_weights": [0.5, None], "test_datasets": [False, True]}
    splits = handbook_mixture(config, settings)
    assert splits["train"].column_names == ["text"] and len(splits["train"]) == 24
    assert "messages" in splits["test"].column_names and len(splits["test"]) == 49


MARK_USER = "<|sftjob-user|>"
MARK_ASSISTANT = "<|sftjob-assistant|>"


def eight_kib_template() -> str:
    """A real-world-sized template: markers around each turn, and a long Jinja comment."""
    body = (
        "{% for message in messages %}"
        "{% if message['role'] == 'user' %}" + MARK_USER + "{{ message['content'] }}\n"
        "{% else %}" + MARK_ASSISTANT + "{{ message['content'] }}<|im_end|>\n"
        "{% endif %}{% endfor %}"
    )
    note = "{# " + ("this template is long on purpose; " * 240) + "#}"
    template = note + body
    assert len(template.encode()) >= 8 * 1024
    return template


def test_inline_chat_template_markers_reach_the_tokenized_text(
    tiny: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sftjob_trainer.train import build_trainer, parse

    template = tmp_path / "chat_template.jinja"
    template.write_text(eight_kib_template(), encoding="utf-8")
    config = base_config(
        tiny,
        tmp_path / "output",
        dataset_name=str(tiny.messages_data),
        chat_template_path=str(template),
        max_steps=1,
    )
    path = write_yaml(tmp_path / "trl.yaml", config)
    for key, value in pod_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    trainer = build_trainer(*parse(str(path), []))
    text = trainer.processing_class.decode(trainer.train_dataset[0]["input_ids"])
    assert text.startswith(MARK_USER) and MARK_ASSISTANT in text, text
    assert yaml.safe_load(path.read_text())["chat_template_path"] == str(template)


def test_weights_that_keep_no_row_are_refused(tiny: Any, tmp_path: Path) -> None:
    """int(49 * 0.01) is 0: the alignment-handbook's rule keeps nothing to train on."""
    data = str(tiny.text_data / "train.jsonl")
    config = base_config(
        tiny, tmp_path / "output", datasets=[{"path": "json", "data_files": data, "split": "train"}]
    )
    del config["dataset_name"]
    path = write_yaml(tmp_path / "trl.yaml", config)
    write_yaml(tmp_path / "sftjob.yaml", {"dataset_weights": [0.01], "mixture_seed": 3})
    run = run_trainer(path, tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    reason = (tmp_path / "termination-log").read_text().strip()
    assert reason.startswith("trl.yaml: the `train` split of the datasets mixture has no rows")
