"""The training program: TRL's own `trl/scripts/sft.py` flow plus resume, progress, clean exit.

Run once per process (directly, or by `accelerate launch`):

    python -m sftjob_trainer.train --config /etc/sftjob/trl.yaml
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import yaml

from .bounds import lora_problem, trl_problems
from .checkpoints import (
    TRAINER_STATE,
    checkpoint_step,
    incomplete_checkpoints,
    newest_complete_checkpoint,
)
from .config_check import ConfigError, check_config, dataclass_field_names, scalar_fields
from .dataset_form import feature_problems, form_of, form_problem, turns_problem
from .failure import (
    EXIT_CONFIG,
    mark_config_refused,
    mark_rank_started,
    not_utf8,
    one_line,
    report_failure,
)
from .kernels import check_kernels
from .local_paths import dataset_file_problem, local_data, missing_paths, model_dir_problem
from .mixture import handbook_mixture, read_settings
from .no_steps import no_step_problem
from .parent_death import stop_rank_with_launcher
from .preemption import EXIT_TERMINATED, Terminated
from .row_scan import rows_problems
from .trackers import check_trackers
from .trainer_refusal import is_data_refusal, is_refusal, unknown_model_kwarg
from .vision import (
    IMAGE_COLUMNS,
    holds_text,
    is_vision_row,
    missing_images,
    unreadable_image,
    vision_problems,
    vision_rows_problem,
)

EXIT_OK = 0
EXIT_FAILED = 1

# TrainingArguments that differ from transformers' defaults on a cluster, unless trl.yaml
# sets them: a checkpoint on SIGTERM (stop_on_sigterm.py), and NaN/inf step losses reach the
# logged loss (transformers otherwise logs the finite ones' average, and the operator's
# watchdog could never report LossNotFinite).
CLUSTER_DEFAULTS = {"enable_jit_checkpoint": True, "logging_nan_inf_filter": False}


def _dataclass_types() -> tuple[Any, ...]:
    from trl import DatasetMixtureConfig, ModelConfig, ScriptArguments, SFTConfig

    return (ScriptArguments, SFTConfig, ModelConfig, DatasetMixtureConfig)


def load_config(path: str | Path) -> dict[str, Any]:
    """Read trl.yaml and refuse legacy or unknown keys before TrlParser can drop them, and
    values of the wrong type that it would pass on unchecked."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read the file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"--config {path}: {not_utf8(exc)}") from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--config {path}: not valid YAML ({one_line(exc)})") from None
    classes = _dataclass_types()
    check_config(config, dataclass_field_names(classes), scalar_fields(classes))
    return config


def apply_cluster_defaults(training_args: Any, explicit: set[str]) -> None:
    for key, value in CLUSTER_DEFAULTS.items():
        if key not in explicit:
            setattr(training_args, key, value)


def _refuse_value(message: str) -> NoReturn:
    """argparse's error (a value it cannot convert, e.g. `learning_rate: fast`) as one line
    naming the key, instead of a usage dump and exit 2 with no termination message."""
    named = re.sub(r"^argument --([\w.]+)(?:/--[\w.-]+)*: ", r"`\1`: ", message)
    raise ConfigError(f"trl.yaml: {named}; write a value of the field's type")


# Words of TrainingArguments' checks of the machine (bf16 on a GPU that does not answer):
# a restart, perhaps on another node, may pass them.
_NODE_WORDS = re.compile(r"\b(gpus?|cuda|devices?|xpu|npu|mps)\b", re.IGNORECASE)


def about_the_node(exc: BaseException) -> bool:
    return bool(_NODE_WORDS.search(str(exc)))


def parse(config_path: str, extra_args: list[str]) -> tuple[Any, Any, Any, Any]:
    from trl import TrlParser

    config = load_config(config_path)
    parser = TrlParser(_dataclass_types(), prog="sftjob-train")
    parser.error = _refuse_value  # type: ignore[method-assign]
    try:
        script_args, training_args, model_args, dataset_args = parser.parse_args_and_config(
            ["--config", config_path, *extra_args], fail_with_unknown_args=False
        )
    except (ValueError, TypeError) as exc:
        if isinstance(exc, ConfigError) or about_the_node(exc):
            raise
        # The dataclasses' own checks as they are built (an unknown optimizer or scheduler,
        # load_best_model_at_end with strategies that differ): nothing has loaded yet, so
        # every restart would meet it again.
        raise ConfigError(f"trl.yaml: {one_line(exc)}; change the value it names") from None
    apply_cluster_defaults(training_args, set(config or {}))
    parsed = (script_args, training_args, model_args, dataset_args)
    flags = (a[2:].split("=")[0].replace("-", "_") for a in extra_args if a.startswith("--"))
    written = {*(config or {}), *flags}  # TrlParser takes --use-peft as --use_peft
    if problems := [*trl_problems(parsed), *filter(None, [lora_problem(written)])]:
        raise ConfigError("; ".join(problems))
    return parsed


def _step_of(path: Path) -> int:
    """A checkpoint's step, by its name or its trainer_state.json (-1: unknown)."""
    step = checkpoint_step(path)
    if step is not None:
        return step
    try:
        state = json.loads((path / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return -1
    return state.get("global_step", -1) if isinstance(state, dict) else -1


def resume_target(training_args: Any, report: bool = True) -> str | None:
    """The newest complete checkpoint in output_dir. `resume_from_checkpoint: <path>` is where
    the first attempt starts, until this job has saved a newer checkpoint (a restarted
    attempt must not go back to it, and it may be rotated away); `true` is the default and
    `false` trains from the start, as in transformers."""
    explicit = training_args.resume_from_checkpoint
    if isinstance(explicit, str) and explicit.strip().lower() in ("true", "false"):
        explicit = explicit.strip().lower() == "true"
    if explicit is False:
        return None
    for path in incomplete_checkpoints(training_args.output_dir) if report else ():
        print(f"sftjob-train: skipping incomplete checkpoint {path}", file=sys.stderr)
    newest = newest_complete_checkpoint(training_args.output_dir)
    if explicit in (None, True, ""):
        return str(newest) if newest else None
    given = Path(str(explicit))
    if newest is None and not given.exists():
        raise ConfigError(
            f"trl.yaml: resume_from_checkpoint: {given} does not exist (and output_dir has no "
            "checkpoint of this job's yet); name an existing checkpoint directory, or remove "
            "resume_from_checkpoint to start from the model"
        )
    if newest is not None and (not given.exists() or _step_of(newest) > _step_of(given)):
        if report:
            print(
                f"sftjob-train: {newest} is newer than resume_from_checkpoint {given}; "
                "resuming from it",
                file=sys.stderr,
            )
        return str(newest)
    if not (given / TRAINER_STATE).is_file():
        raise ConfigError(
            f"trl.yaml: resume_from_checkpoint: {given} is not a checkpoint (no "
            f"{TRAINER_STATE} in it); name a checkpoint-N directory the Trainer saved, or set "
            "model_name_or_path to it to start a new run from its weights"
        )
    return str(given)


def load_datasets(script_args: Any, dataset_args: Any, settings: Mapping[str, Any]) -> Any:
    """As in trl/scripts/sft.py: a mixture (`datasets:`) wins over `dataset_name`.

    Weights and test datasets (sftjob.yaml) are our extension: see `mixture`.
    """
    from datasets import load_dataset
    from trl import get_dataset

    if dataset_args.datasets and (settings.get("dataset_weights") or settings.get("test_datasets")):
        return handbook_mixture(dataset_args, settings)
    if dataset_args.datasets:
        return get_dataset(dataset_args)
    if script_args.dataset_name:
        return load_dataset(
            script_args.dataset_name,
            name=script_args.dataset_config,
            streaming=script_args.dataset_streaming,
        )
    raise ConfigError(
        "trl.yaml: no dataset; set `dataset_name` (a hub name or a local directory) "
        "or `datasets: [{path: json, data_files: ...}]`"
    )


def check_vision(train_dataset: Any, training_args: Any) -> None:
    """Before the model loads: what TRL would refuse for vision data after loading it, and
    image paths that would fail the batch that holds them."""
    first = next(iter(train_dataset), None)
    problems = vision_problems(training_args) if first and is_vision_row(first) else []
    features = getattr(train_dataset, "features", None) or {}
    if hasattr(train_dataset, "__len__"):  # a streamed dataset is read as it trains
        # only paths written as text: an Image column holds decoded images, not paths
        for column in (c for c in IMAGE_COLUMNS if c in features and holds_text(features[c])):
            if missing := missing_images(column, train_dataset[column]):
                problems.append(f"trl.yaml: {missing}")
    if problems:
        raise ConfigError("; ".join(problems))


_WITH_ROWS = "point dataset_name (or datasets) at data with rows to train on"


def training_data(
    script_args: Any,
    training_args: Any,
    model_args: Any,
    dataset_args: Any,
    settings: Mapping[str, Any],
) -> tuple[Any, Any]:
    """The datasets and the eval split, with what every restart would meet again refused
    first: local paths that are not there, no rows, rows SFTTrainer cannot read, a missing
    split."""
    for i, entry in enumerate(dataset_args.datasets or ()):
        if not dataclasses.is_dataclass(entry):
            raise ConfigError(
                f"trl.yaml: datasets[{i}] is `{json.dumps(entry, default=str)}`; write a "
                "mapping such as `{path: <hub name or directory>}`"
            )
    named_paths = {
        "model_name_or_path": model_args.model_name_or_path,
        "dataset_name": script_args.dataset_name,
        "chat_template_path": getattr(training_args, "chat_template_path", None),
        "deepspeed": training_args.deepspeed,
        "datasets": [dataclasses.asdict(d) for d in dataset_args.datasets or ()],
    }
    problems = [
        *missing_paths(named_paths),
        *filter(None, [model_dir_problem(str(model_args.model_name_or_path))]),
        *filter(None, [dataset_file_problem(script_args.dataset_name)]),
    ]
    if problems:
        raise ConfigError("; ".join(problems))

    source = "the datasets mixture" if dataset_args.datasets else script_args.dataset_name
    try:
        dataset = load_datasets(script_args, dataset_args, settings)
    except StopIteration:  # datasets' JSON builder reads a first row for the columns
        if not local_data(named_paths):
            raise  # from the Hub: not known to be the data itself
        raise ConfigError(
            f"trl.yaml: {source}: a data file is empty, or data_files matches none (no row to "
            "read the columns from); " + _WITH_ROWS
        ) from None
    except Exception as exc:
        if isinstance(exc, ValueError) and "corresponds to no data" in str(exc):
            # datasets' words for an empty split
            raise ConfigError(f"trl.yaml: {source}: {exc}; {_WITH_ROWS}") from None
        if isinstance(exc, ConfigError) or not (local_data(named_paths) and is_data_refusal(exc)):
            raise
        traceback.print_exc()
        inner = exc.__cause__ if type(exc).__name__ == "DatasetGenerationError" else exc
        raise ConfigError(
            f"trl.yaml: {source}: {one_line(inner or exc)}; fix the data, or the key it names "
            "(dataset_name, datasets[].path, data_files, split, columns, dataset_config, "
            "test_split_size)"
        ) from None
    if script_args.dataset_train_split not in dataset:
        raise ConfigError(
            f"trl.yaml: dataset_train_split `{script_args.dataset_train_split}` is not in the "
            f"dataset (splits: {', '.join(dataset)}); set `dataset_train_split` to one of them"
        )
    train_rows = dataset[script_args.dataset_train_split]
    if hasattr(train_rows, "__len__") and len(train_rows) == 0:  # a streamed one has no length
        raise ConfigError(
            f"trl.yaml: the `{script_args.dataset_train_split}` split of {source} has no rows; "
            + _WITH_ROWS
        )
    if problem := _rows_problem(train_rows, training_args):
        raise ConfigError(
            f"trl.yaml: the `{script_args.dataset_train_split}` split of {source} {problem}"
        )
    eval_dataset = None
    if training_args.eval_strategy != "no":
        if script_args.dataset_test_split not in dataset:
            strategy = getattr(training_args.eval_strategy, "value", training_args.eval_strategy)
            # TRL's test_split_size splits a `datasets` mixture only
            split_it = (
                "`test_split_size`"
                if dataset_args.datasets
                else ("`test_split_size` with the dataset as a `datasets` mixture")
            )
            raise ConfigError(
                f"trl.yaml: eval_strategy is `{strategy}` but the dataset has "
                f"no split `{script_args.dataset_test_split}`; set `dataset_test_split` to one "
                f"of its splits ({', '.join(dataset)}), {split_it}, or "
                '`eval_strategy: "no"`'
            )
        eval_dataset = dataset[script_args.dataset_test_split]
        if problem := _rows_problem(eval_dataset, training_args):
            raise ConfigError(
                f"trl.yaml: the `{script_args.dataset_test_split}` split of {source} (the "
                f"evaluation data) {problem}"
            )
    return dataset, eval_dataset


def _rows_problem(rows: Any, training_args: Any) -> str | None:
    """Why SFTTrainer cannot read these rows, or would train other than asked: by their
    columns and types, their first row, and (row_scan) every row. A streamed split may know
    none of these without reading it, and is left to TRL."""
    text_field = training_args.dataset_text_field
    columns = getattr(rows, "column_names", None) or []
    first = rows[0] if hasattr(rows, "__len__") and len(rows) else None
    vision = first is not None and is_vision_row(first)
    if (training_args.dataset_kwargs or {}).get("skip_prepare_dataset", False):
        if columns and "input_ids" not in columns and not vision:
            return (
                "has no `input_ids` column (its columns: "
                + ", ".join(f"`{c}`" for c in columns)
                + "), and dataset_kwargs.skip_prepare_dataset: true gives the rows to the model "
                "as they are; tokenize the data first, or remove skip_prepare_dataset so TRL "
                "tokenizes it"
            )
        return None
    if "input_ids" in columns:
        return None
    if vision:  # TRL's collator reads image rows as they are
        return vision_rows_problem(columns, text_field)
    if columns and (problem := form_problem(columns, text_field)):
        return problem
    if first is None:
        return None
    # TRL tokenizes row by row: a row whose conversation TRL cannot read is read as text, in
    # the first row (the whole split then is text) and in the others alike.
    text_too = text_field in columns and "prompt" not in columns
    if not text_too and (problem := turns_problem(first)):
        return problem
    form = form_of(first, columns, text_field)
    settings = {
        "completion_only_loss": training_args.completion_only_loss,
        "assistant_only_loss": training_args.assistant_only_loss,
    }
    problems = feature_problems(form, rows.features, text_field, settings)
    if not problems:
        assistant = form.assistant_column if training_args.assistant_only_loss else None
        fallback = text_field if text_too and form.turns else None
        problems = rows_problems(rows, form.columns, form.turns, assistant, fallback)
    return "; ".join(problems) or None


def build_trainer(
    script_args: Any,
    training_args: Any,
    model_args: Any,
    dataset_args: Any,
    settings: Mapping[str, Any] | None = None,
) -> Any:
    """TRL's sft.py up to the trainer: model kwargs, datasets, SFTTrainer (and our progress)."""
    from trl import SFTTrainer, get_peft_config, get_quantization_config

    from .progress import ProgressCallback, interval_from_env, reporter_from_env

    # Before any dataset or model loads: a missing tracker fails in Trainer.__init__.
    check_trackers(training_args.report_to)
    model_init_kwargs = dict(
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
        attn_implementation=model_args.attn_implementation,
        dtype=model_args.dtype,
    )
    written_kwargs = dict(training_args.model_init_kwargs or {})
    model_init_kwargs.update(written_kwargs)
    training_args.model_init_kwargs = model_init_kwargs
    # A missing attention kernel fails when the model loads; sftConfig.model_init_kwargs
    # may name the attention instead of modelConfig.
    check_kernels(
        model_init_kwargs.get("attn_implementation"),
        bool(training_args.use_liger_kernel),
        bool(training_args.use_cpu),
    )
    dataset, eval_dataset = training_data(
        script_args, training_args, model_args, dataset_args, settings or {}
    )
    check_vision(dataset[script_args.dataset_train_split], training_args)

    from peft import NoMatchingPeftModuleError

    try:  # LoraConfig checks its values as it is built: `lora_r: 0`, a task type
        peft_config = get_peft_config(model_args)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"trl.yaml: the LoRA settings (lora_*): {one_line(exc)}; change the value it names"
        ) from None
    try:
        trainer = SFTTrainer(
            model=model_args.model_name_or_path,
            args=training_args,
            train_dataset=dataset[script_args.dataset_train_split],
            eval_dataset=eval_dataset,
            quantization_config=get_quantization_config(model_args),
            peft_config=peft_config,
        )
    except NoMatchingPeftModuleError as exc:  # the same on every restart
        raise ConfigError(
            f"trl.yaml: lora_target_modules (or lora_target_parameters): {one_line(exc)}; "
            "write modules this model has (such as q_proj, v_proj), or all-linear"
        ) from None
    except Exception as exc:
        if key := unknown_model_kwarg(exc, written_kwargs):
            raise ConfigError(
                f"trl.yaml: model_init_kwargs.{key}: the model does not take it "
                f"({one_line(exc)}); remove it, or write an argument of from_pretrained "
                "(such as dtype, device_map or attn_implementation) or of the model's config"
            ) from None
        if isinstance(exc, ConfigError) or not is_refusal(exc):
            raise
        traceback.print_exc()
        raise ConfigError(
            f"trl.yaml: SFTTrainer refused this job before training: {one_line(exc)}; "
            "change what it names (the full message is in the log above)"
        ) from None
    if problem := _prepared_problem(trainer, script_args, training_args):
        raise ConfigError(problem)
    trainer.add_callback(ProgressCallback(reporter_from_env(), interval_from_env()))
    return trainer


def _prepared_problem(trainer: Any, script_args: Any, training_args: Any) -> str | None:
    """A train split that TRL's preparation left without a row (it drops the rows with no
    token to train, such as those whose completion max_length cut off entirely): the
    sampler refuses it once training starts. (An evaluation split left empty evaluates
    nothing, as in bare TRL.)"""
    rows = trainer.train_dataset
    if rows is None or not hasattr(rows, "__len__") or len(rows):
        return None
    split = script_args.dataset_train_split
    if training_args.max_length is not None:
        return (
            f"trl.yaml: max_length {training_args.max_length} leaves no trained token in any "
            f"row of the `{split}` split (TRL drops the rows whose completion or assistant "
            "turns are cut off entirely); raise max_length, shorten the prompts, or set "
            "truncation_mode: keep_end"
        )
    return (
        f"trl.yaml: no row of the `{split}` split has a token to train (TRL drops those rows: "
        "an empty completion or no assistant turn); " + _WITH_ROWS
    )


def train(
    script_args: Any,
    training_args: Any,
    model_args: Any,
    dataset_args: Any,
    settings: Mapping[str, Any] | None = None,
) -> None:
    from .stop_on_sigterm import stop_on_sigterm

    resume_target(training_args, report=False)  # its refusal, before anything loads
    trainer = build_trainer(script_args, training_args, model_args, dataset_args, settings)
    sigterm = stop_on_sigterm(trainer)
    # Chosen once the trainer is built: the newest checkpoint then is the one to resume.
    checkpoint = resume_target(training_args)
    if checkpoint:
        trainer.accelerator.print(f"sftjob-train: resuming from {checkpoint}")
    trained = train_refusing(trainer, checkpoint)
    if sigterm is not None and sigterm.cut_short(trainer.state):
        raise _terminated(trainer.state, training_args.output_dir)
    if trained and trainer.state.global_step == 0:
        raise ConfigError(_no_step_problem(trainer))
    if not trained:
        trainer.accelerator.print(
            f"sftjob-train: {checkpoint} is at max_steps ({trainer.state.max_steps}); "
            "training is complete, saving it as the final model"
        )

    gather_full_state_dict(trainer)
    trainer.save_model(training_args.output_dir)
    trainer.accelerator.print(f"sftjob-train: model saved to {training_args.output_dir}")

    if training_args.push_to_hub:
        trainer.push_to_hub(dataset_name=script_args.dataset_name)
        trainer.accelerator.print(f"sftjob-train: pushed to the Hub as {trainer.hub_model_id}")

    # Every rank waits for the final save, then the trackers finish and the process
    # group is destroyed, so no rank is left waiting on a collective.
    trainer.accelerator.wait_for_everyone()
    state = trainer.accelerator.state
    # One write of the whole line: with PYTHONUNBUFFERED, print() writes the text and the
    # newline separately, and ranks sharing a pipe interleave.
    finished = (
        f"sftjob-train: rank {state.process_index}/{state.num_processes} finished at step "
        f"{trainer.state.global_step}\n"
    )
    os.write(sys.stderr.fileno(), finished.encode())
    trainer.end()


def train_refusing(trainer: Any, checkpoint: str | None) -> bool:
    """`train_or_finish`, with what every resumed attempt would meet again refused (exit 2):
    TRL's or a template's refusal of a batch, a metric_for_best_model the evaluation does not
    report, a local image file that is no image."""
    from .resume import train_or_finish

    try:
        return train_or_finish(trainer, checkpoint)
    except Exception as exc:
        image = unreadable_image(exc)
        if isinstance(exc, ConfigError) or not (image or is_refusal(exc)):
            raise
        traceback.print_exc()
        fix = (
            f"{image} is not an image PIL can read; replace the file, or drop its row"
            if image
            else "change what it names (the full message is in the log above)"
        )
        raise ConfigError(
            f"trl.yaml: training stopped at step {trainer.state.global_step}: "
            f"{one_line(exc)}; {fix}"
        ) from None


def _no_step_problem(trainer: Any) -> str:
    args = trainer.args
    rows = trainer.train_dataset
    return no_step_problem(
        args.num_train_epochs,
        args.max_steps,
        args.dataloader_drop_last,
        len(rows) if hasattr(rows, "__len__") else None,
        args.per_device_train_batch_size * args.world_size,
    )


def gather_full_state_dict(trainer: Any) -> None:
    """FSDP with sharded checkpoints: transformers' save_model writes weights only from a
    full state dict, and would leave the output without a model. The final save gathers
    the whole model, as transformers' FSDP guide says (the checkpoints stay sharded)."""
    if not getattr(trainer, "is_fsdp_enabled", False):
        return
    plugin = trainer.accelerator.state.fsdp_plugin
    if "FULL_STATE_DICT" in str(plugin.state_dict_type):
        return
    # The sharded configs would stay: set_state_dict_type fills only missing ones.
    plugin.state_dict_config = None
    plugin.optim_state_dict_config = None
    plugin.set_state_dict_type("FULL_STATE_DICT")


def _terminated(state: Any, output_dir: str) -> Terminated:
    """Training stopped on SIGTERM (its checkpoint saved and reported by the save path)."""
    saved = newest_complete_checkpoint(output_dir)
    if saved is None:
        return Terminated("stopped by SIGTERM before a checkpoint could be saved")
    return Terminated(
        f"stopped by SIGTERM; {saved.name} saved (step {checkpoint_step(saved)} of "
        f"{state.max_steps}); the next attempt resumes from it"
    )


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sftjob_trainer.train",
        description="Run TRL SFT from a trl.yaml (one process of a possibly distributed job).",
    )
    parser.add_argument("--config", required=True, help="path to trl.yaml")
    args, extra = parser.parse_known_args(argv)
    train(*parse(args.config, extra), settings=read_settings(args.config))


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, Terminated):
        return EXIT_TERMINATED
    return EXIT_CONFIG if isinstance(exc, ConfigError) else EXIT_FAILED


def main(argv: list[str] | None = None) -> NoReturn:
    """Run, then leave the process explicitly: 0 on success, else one line of reason."""
    code = EXIT_OK
    stop_rank_with_launcher(os.environ)  # its launcher killed: checkpoint and stop
    mark_rank_started()
    try:
        run(argv)
    except SystemExit as exc:  # argparse --help / usage errors
        code = exc.code if isinstance(exc.code, int) else EXIT_FAILED
    except BaseException as exc:
        expected = isinstance(exc, ConfigError | Terminated)
        if not expected:
            traceback.print_exc()
        report_failure(" ".join(str(exc).split()) if expected else one_line(exc))
        code = exit_code_for(exc)
        if code == EXIT_CONFIG:
            mark_config_refused()
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit skips interpreter teardown: a lingering communication or loader thread
    # cannot keep a finished rank alive.
    os._exit(code)


if __name__ == "__main__":
    main()
