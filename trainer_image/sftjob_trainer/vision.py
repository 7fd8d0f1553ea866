"""What TRL refuses for vision data, refused before the model loads.

TRL's SFTTrainer checks these only after it has loaded the model (minutes, for a 7B
vision-language model); the trainer checks the first training row as TRL does and fails
at once, with a message that names the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

IMAGE_COLUMNS = ("image", "images")


def is_vision_row(row: Mapping[str, Any]) -> bool:
    """TRL's own test: a row with an image or images key."""
    return any(column in row for column in IMAGE_COLUMNS)


def vision_problems(training_args: Any) -> list[str]:
    """What a vision dataset cannot train with, each naming the sftConfig field."""
    problems = []
    if training_args.packing:
        problems.append(
            "sftConfig.packing: TRL cannot pack vision data (image tokens would be cut "
            "across sequences); write packing: false"
        )
    if training_args.padding_free:
        problems.append(
            "sftConfig.padding_free: TRL does not support padding-free training for vision "
            "data; write padding_free: false"
        )
    if training_args.max_length is not None and training_args.truncation_mode == "keep_end":
        problems.append(
            "sftConfig.truncation_mode: keep_end would cut the image tokens out of the prompt; "
            "write truncation_mode: keep_start, or max_length: null"
        )
    return problems


def vision_rows_problem(columns: Iterable[str], text_field: str) -> str | None:
    """Why TRL cannot read the text of image rows with these columns (None: it can).
    TRL does not prepare image rows: its collator reads `messages`, `prompt` and
    `completion`, or the text field, as they are. (Image placeholders that do not match the
    images are counted by the processor, with its own image token, as a batch is built:
    transformers' refusal there is a refusal too.)"""
    present = set(columns)
    if not present & {"messages", "prompt", text_field}:
        sharegpt = " (ShareGPT `conversations` are not converted for image rows)"
        return (
            "holds image rows whose text is in none of the columns TRL reads for them"
            + (sharegpt if "conversations" in present else "")
            + "; write it as `messages` of {role, content} turns"
        )
    return None


# A string image that names a file by these endings is a path (else a URL or base64 data,
# which transformers' load_image also takes).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
SHOWN = 3


def holds_text(feature: Any) -> bool:
    """Whether a datasets feature holds strings, or lists of them (paths, URLs), which can be
    read without decoding a single image."""
    if isinstance(feature, list):  # datasets' older way to write a list feature
        return len(feature) == 1 and holds_text(feature[0])
    dtype = getattr(feature, "dtype", None)
    if dtype is not None and type(feature).__name__ == "Value":
        return dtype in ("string", "large_string")
    inner = getattr(feature, "feature", None)  # List, LargeList, Sequence
    return inner is not None and holds_text(inner)


def _names_a_file(image: Any) -> bool:
    return (
        isinstance(image, str)
        and image.lower().endswith(IMAGE_SUFFIXES)
        and not image.startswith(("http://", "https://"))
    )


def missing_images(
    column: str, values: Iterable[Any], is_file: Callable[[str], bool] = lambda p: Path(p).is_file()
) -> str | None:
    """Image paths of the rows that are no file here. transformers loads a row's images only
    in the batch that holds it, so a missing one fails mid-epoch, and every restart resumes
    into it again; a relative path resolves against the working directory, not the data
    file. None when every path is a file."""
    missing: list[tuple[int, str]] = []
    count = 0
    for row, value in enumerate(values):
        for image in value if isinstance(value, list) else [value]:
            if _names_a_file(image) and not is_file(image):
                count += 1
                if len(missing) < SHOWN:
                    missing.append((row, image))
    if not count:
        return None
    shown = ", ".join(f"row {row}: {image}" for row, image in missing)
    more = f" and {count - len(missing)} more" if count > len(missing) else ""
    return (
        f"the `{column}` column names images that are not files here ({shown}{more}); write "
        "absolute paths of files the pods mount (a relative one resolves against the working "
        "directory, not the data file), URLs, or embed the images"
    )


# PIL's words for a file it opened but could not read as an image (UnidentifiedImageError).
_UNIDENTIFIED = re.compile(r"cannot identify image file '([^']+)'")


def unreadable_image(
    exc: BaseException, is_file: Callable[[str], bool] = lambda p: Path(p).is_file()
) -> str | None:
    """The local file named by PIL's UnidentifiedImageError: it is there but is no image, and
    every restart resumes into the batch that holds it. None for any other error, or for an
    image that came from elsewhere (a URL's reply, bytes), which a retry may read."""
    if type(exc).__name__ != "UnidentifiedImageError":
        return None
    found = _UNIDENTIFIED.search(str(exc))
    return found.group(1) if found and is_file(found.group(1)) else None
