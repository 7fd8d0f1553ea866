"""Which exceptions from building the SFTTrainer are refusals of the job, not faults.

SFTTrainer checks its arguments and tokenizes the rows while it is built; what it refuses
there (assistant_only_loss with a chat template it cannot mark, a message content the
template cannot render, a null in the text column) is the same on every restart. The same
constructor also loads the model and tokenizer, where a ValueError can be transient: a
truncated download (a JSON or Unicode error), a device map sized from the GPU memory free
at that moment (transformers' quantizers), a map cache read back from network storage
(pyarrow). So what counts:
- a ValueError, TypeError, AttributeError, KeyError or IndexError raised by TRL's own code,
  or by a chat template as it renders (a row's missing key, a null where text goes);
- any of jinja2's errors: a template that does not parse, or that raises (a Mistral-style
  template's "roles must alternate");
- transformers' few refusals of the job itself, by the function that raises them: no chat
  template for conversational rows, a quantized model without adapters to train, a
  metric_for_best_model that the evaluation does not report (a KeyError at the first one).
Pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import FrameType, TracebackType

# Where a refusal may be raised: TRL's modules, jinja2's, or a compiled template's code.
REFUSING_PACKAGES = ("trl", "jinja2")
TEMPLATE_FILENAME = "<template>"
REFUSED_TYPES = (ValueError, TypeError, AttributeError, KeyError, IndexError)
PASSING_TYPES = (json.JSONDecodeError, UnicodeDecodeError)
# transformers' functions whose errors (of the kinds above) refuse the job: (module, function).
REFUSING_FUNCTIONS = frozenset(
    {
        ("transformers.tokenization_utils_base", "get_chat_template"),
        ("transformers.trainer_utils", "validate_quantization_for_training"),
        ("transformers.trainer", "_determine_best_metric"),
        # no column left that the model takes: what the rows hold, on every attempt
        ("transformers.trainer", "_remove_unused_columns"),
        # image placeholders in the text that do not match the row's images
        ("transformers.processing_utils", "validate_inputs"),
        # TRL's RuntimeError for a row with no assistant tokens under assistant_only_loss
        ("trl.trainer.sft_trainer", "tokenize_fn"),
    }
)
# Where a row is read for TRL: a KeyError raised there is TRL's missing column.
ROW_ACCESS_MODULES = ("datasets.formatting",)


def raising_frame(tb: TracebackType | None) -> FrameType | None:
    """Where the exception was raised: the innermost frame, or the one that read a row
    through datasets' row mapping (its `__getitem__` raises the KeyError of a missing
    column)."""
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    while len(frames) > 1 and str(frames[-1].f_globals.get("__name__", "")).startswith(
        ROW_ACCESS_MODULES
    ):
        frames.pop()
    return frames[-1] if frames else None


def is_refusal(exc: BaseException) -> bool:
    """An error of a kind that every retry would meet again (see the module's list)."""
    if type(exc).__module__.split(".")[0] == "jinja2":
        return True  # jinja2.TemplateError and its kinds
    if isinstance(exc, PASSING_TYPES) or _from_pyarrow(exc):
        return False
    frame = raising_frame(exc.__traceback__)
    if frame is None or not isinstance(exc, (*REFUSED_TYPES, RuntimeError)):
        return False
    module = str(frame.f_globals.get("__name__", ""))
    if (module, frame.f_code.co_name) in REFUSING_FUNCTIONS:
        return True
    if not isinstance(exc, REFUSED_TYPES):
        return False  # a RuntimeError only from the functions named
    return (
        frame.f_code.co_filename == TEMPLATE_FILENAME or module.split(".")[0] in REFUSING_PACKAGES
    )


def is_data_refusal(exc: BaseException) -> bool:
    """What loading local data raises that is the data or its keys, the same on every
    restart: a malformed row, a directory with no data files, an unknown split, column or
    config. One caused by a read that failed (OSError) is not."""
    cause = exc.__cause__
    if cause is None and not exc.__suppress_context__:  # `raise ... from None` hides it
        cause = exc.__context__
    if isinstance(cause, OSError):
        return False
    name = type(exc).__name__
    if type(exc).__module__.startswith("datasets") and name in DATA_ERRORS:
        return True  # a malformed row comes wrapped: DatasetGenerationError from ArrowInvalid
    # pyarrow's own, unwrapped, reads back the datasets cache on the job's storage: a torn
    # cache file there is the storage's, not the data's
    return isinstance(exc, ValueError) and not _from_pyarrow(exc)


def _from_pyarrow(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("pyarrow")


# datasets' errors about the data itself (EmptyDatasetError is a FileNotFoundError).
DATA_ERRORS = frozenset({"DatasetGenerationError", "EmptyDatasetError"})


_UNEXPECTED_KWARG = re.compile(r"got an unexpected keyword argument '(\w+)'")


def unknown_model_kwarg(exc: BaseException, written: Mapping[str, object]) -> str | None:
    """The key of sftConfig.model_init_kwargs that the model's class refused as it was built
    (a TypeError naming it): the same on every restart. None for any other error."""
    found = _UNEXPECTED_KWARG.search(str(exc)) if isinstance(exc, TypeError) else None
    return found.group(1) if found and found.group(1) in written else None
