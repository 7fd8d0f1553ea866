"""Which exceptions from building the SFTTrainer are refusals of the job, not faults.

SFTTrainer checks its arguments and tokenizes the rows while it is built; what it refuses
there (assistant_only_loss with a chat template it cannot mark, a message content the
template cannot render) is the same on every restart. The same constructor also loads the
model and tokenizer, where a ValueError can be transient: a truncated download (a JSON or
Unicode error), a device map sized from the GPU memory free at that moment (transformers'
quantizers), a map cache read back from network storage (pyarrow). So only a ValueError or
TypeError raised by TRL's own code, or by a chat template as it renders, counts. Pure.
"""

from __future__ import annotations

import json
from types import FrameType, TracebackType

# Where a refusal may be raised: TRL's modules, jinja2's, or a compiled template's code.
REFUSING_PACKAGES = ("trl", "jinja2")
TEMPLATE_FILENAME = "<template>"
PASSING_TYPES = (json.JSONDecodeError, UnicodeDecodeError)


def raising_frame(tb: TracebackType | None) -> FrameType | None:
    """The innermost frame: where the exception was raised."""
    last = None
    while tb is not None:
        last, tb = tb, tb.tb_next
    return None if last is None else last.tb_frame


def is_refusal(exc: BaseException) -> bool:
    """A ValueError or TypeError raised by TRL or a chat template, of a kind that every
    retry would meet again."""
    if not isinstance(exc, ValueError | TypeError) or isinstance(exc, PASSING_TYPES):
        return False
    if type(exc).__module__.startswith("pyarrow"):
        return False
    frame = raising_frame(exc.__traceback__)
    if frame is None:
        return False
    module = str(frame.f_globals.get("__name__", ""))
    return (
        frame.f_code.co_filename == TEMPLATE_FILENAME or module.split(".")[0] in REFUSING_PACKAGES
    )
