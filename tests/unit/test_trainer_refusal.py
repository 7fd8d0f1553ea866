"""trainer_refusal.is_refusal: only TRL's and a chat template's own ValueError or TypeError
fail a job without a restart; one from loading the model or a download may pass."""

from __future__ import annotations

import json

import pytest
from sftjob_trainer.trainer_refusal import is_refusal

SITE = "/venv/lib/python3.11/site-packages"


def raised_in(filename: str, exc: BaseException) -> BaseException:
    """exc, raised by code compiled as if from filename, in the module that file is."""
    code = compile("raise exc", filename, "exec")
    relative = filename.removeprefix(f"{SITE}/").removesuffix(".py")
    module = relative.replace("/", ".") if filename.startswith(SITE) else "__main__"
    try:
        exec(code, {"exc": exc, "__name__": module})
    except BaseException as caught:
        return caught
    raise AssertionError("not raised")


@pytest.mark.parametrize(
    ("filename", "exc", "refusal"),
    [
        (f"{SITE}/trl/chat_template_utils.py", ValueError("not training-compatible"), True),
        (f"{SITE}/trl/trainer/sft_trainer.py", TypeError("bad argument"), True),
        ("<template>", TypeError("unsupported operand type(s) for +: 'int' and 'str'"), True),
        (f"{SITE}/jinja2/runtime.py", TypeError("'int' object is not iterable"), True),
        # Model and tokenizer loading: a device map from the memory free now, a download.
        (f"{SITE}/transformers/quantizers/quantizer_bnb_4bit.py", ValueError("dispatched"), False),
        (f"{SITE}/transformers/tokenization_utils_base.py", ValueError("bad file"), False),
        # A truncated file read by TRL's own code is still a truncated file.
        (f"{SITE}/trl/trainer/sft_trainer.py", json.JSONDecodeError("Expecting", "{", 1), False),
        (
            f"{SITE}/trl/trainer/sft_trainer.py",
            UnicodeDecodeError("utf-8", b"\xff", 0, 1, "x"),
            False,
        ),
        # Other types are faults, wherever they come from.
        (f"{SITE}/trl/trainer/sft_trainer.py", RuntimeError("CUDA error"), False),
        (f"{SITE}/trl/trainer/sft_trainer.py", OSError("stale file handle"), False),
        # A script merely named like the package does not count.
        ("/home/me/trl.py", ValueError("x"), False),
        (f"{SITE}/trl_extras/x.py", ValueError("x"), False),
    ],
)
def test_is_refusal(filename: str, exc: BaseException, refusal: bool) -> None:
    assert is_refusal(raised_in(filename, exc)) is refusal


def test_an_exception_never_raised_is_not_a_refusal() -> None:
    assert not is_refusal(ValueError("no traceback"))


def test_pyarrow_errors_are_not_refusals() -> None:
    """A map cache read back from network storage: ArrowInvalid is a ValueError."""
    pyarrow = pytest.importorskip("pyarrow")
    exc = raised_in(f"{SITE}/trl/trainer/sft_trainer.py", pyarrow.lib.ArrowInvalid("torn"))
    assert isinstance(exc, ValueError) and not is_refusal(exc)
