"""Refuse trl.yaml paths on this machine that do not exist, before any dataset or model loads.

A model, dataset or chat template named by a local path (absolute, or `./`, `../`, `~`)
that is not there fails the same way on every restart: transformers and datasets say so
with a traceback, and only after seconds of imports. The check is by path only: a Hub name
(`Qwen/Qwen2.5-0.5B`, `trl-lib/Capybara`) is never a local path here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeGuard

# Keys whose value may be a local path (else a Hub name, or deepspeed's inline mapping).
PATH_KEYS = ("model_name_or_path", "dataset_name", "chat_template_path", "deepspeed")
LOCAL_PREFIXES = ("/", "./", "../", "~")


def is_local(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith(LOCAL_PREFIXES)


def _absolute(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith(("/", "~"))


def _mixture(config: Mapping[str, Any]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(index, entry) of each mapping in `datasets`."""
    datasets = config.get("datasets")
    for i, dataset in enumerate(datasets if isinstance(datasets, list) else ()):
        if isinstance(dataset, Mapping):
            yield i, dataset


def _named_paths(config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, path) of every local path the parsed config names (datasets as mappings)."""
    for key in PATH_KEYS:
        if is_local(value := config.get(key)):
            yield key, value
    for i, dataset in _mixture(config):
        if is_local(path := dataset.get("path")):
            yield f"datasets[{i}].path", path
        for file in _data_files(dataset.get("data_files")):
            # datasets resolves a relative file against path or data_dir, and a glob
            # itself: only an absolute file name is checked here
            if _absolute(file) and not any(c in file for c in "*?["):
                yield f"datasets[{i}].data_files", file


def _data_files(files: Any) -> Iterator[Any]:
    """Each file of data_files: one, a list, or a mapping of splits to either."""
    named = files.values() if isinstance(files, Mapping) else [files]
    for group in named:
        yield from group if isinstance(group, list) else [group]


# datasets' packaged builders: a mixture entry `{path: json, data_files: ...}` reads files.
FILE_BUILDERS = frozenset({"json", "csv", "parquet", "text", "arrow", "imagefolder"})
_REMOTE = ("hf://", "http://", "https://", "s3://", "gs://", "gcs://", "az://", "abfs://")


def _remote(files: Any) -> bool:
    return any(isinstance(f, str) and f.startswith(_REMOTE) for f in _data_files(files))


def local_data(config: Mapping[str, Any]) -> bool:
    """Whether the dataset is read from files here: a local dataset_name, or a mixture
    entry with a local path, or a file builder's (`json`) data files that are not remote.
    A Hub dataset's data_files (`{path: org/data, data_files: train-*.parquet}`) are the
    Hub's."""
    return is_local(config.get("dataset_name")) or any(
        is_local(d.get("path"))
        or (d.get("path") in FILE_BUILDERS and d.get("data_files") and not _remote(d["data_files"]))
        for _, d in _mixture(config)
    )


def missing_paths(config: Mapping[str, Any]) -> list[str]:
    """One message per local path that does not exist."""
    return [
        f"trl.yaml: `{where}: {path}`: no such file or directory here; mount it at that path "
        "(a podTemplate volume, or the job's storage), or write a Hub name"
        for where, path in _named_paths(config)
        if not Path(path).expanduser().exists()
    ]


# What transformers' AutoTokenizer reads a tokenizer from (the fast file, its config, or a
# slow tokenizer's vocabulary).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "tekken.json",  # Mistral's, which transformers 5 reads with mistral-common
    "vocab.json",
    "vocab.txt",
    "spiece.model",
)
_DATA_BUILDERS = {
    ".jsonl": "json",
    ".json": "json",
    ".parquet": "parquet",
    ".csv": "csv",
    ".txt": "text",
    ".arrow": "arrow",
}


def _base_model(adapter_config: Path) -> str | None:
    try:
        base = json.loads(adapter_config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError):
        return None
    return base if isinstance(base, str) and base else None


def model_dir_problem(path: str) -> str | None:
    """Why a local model directory cannot be trained from: no config.json (a LoRA adapter, an
    empty mount), or no tokenizer, with which transformers 5 builds an empty one and trains
    on nothing. None for a directory that can, or a path that is not a directory."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return None
    where = f"trl.yaml: `model_name_or_path: {path}`"
    if not (folder / "config.json").is_file():
        if (folder / "adapter_config.json").is_file():
            base = _base_model(folder / "adapter_config.json")
            named = f" ({base})" if base else ""
            return (
                f"{where} is a LoRA adapter (adapter_config.json), not a model; write its base "
                f"model{named} as model_name_or_path, or merge the adapter into it first"
            )
        return (
            f"{where} has no config.json, so no model loads from it; point it at a directory "
            "that save_pretrained wrote (config.json, the weights and the tokenizer)"
        )
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        return (
            f"{where} has no tokenizer (none of {', '.join(TOKENIZER_FILES)}), and transformers "
            "would train with an empty one; save the tokenizer beside the model "
            "(tokenizer.save_pretrained)"
        )
    return None


def dataset_file_problem(dataset_name: Any) -> str | None:
    """A local `dataset_name` that is a file: datasets loads a directory or a Hub name by
    name, and says it finds no data file at a file's own path."""
    if not is_local(dataset_name) or not Path(dataset_name).expanduser().is_file():
        return None
    said = (
        f"trl.yaml: `dataset_name: {dataset_name}` is a file, and dataset_name takes a directory "
        "or a Hub name; point it at the file's directory"
    )
    builder = _DATA_BUILDERS.get(Path(dataset_name).suffix)
    if builder is None:
        return said
    return f"{said}, or write `datasets: [{{path: {builder}, data_files: {dataset_name}}}]`"
