"""trainer_refusal.is_refusal: only what TRL's and a chat template's own code raise on bad
input, jinja2's errors and transformers' named refusals fail a job without a restart; an
error from loading the model or a download may pass."""

from __future__ import annotations

import json

import jinja2
import pytest
from sftjob_trainer.trainer_refusal import is_data_refusal, is_refusal

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


@pytest.mark.parametrize(
    ("filename", "exc"),
    [
        # TRL's add_eos on a null text, a row without the column TRL reads.
        (f"{SITE}/trl/trainer/sft_trainer.py", AttributeError("'NoneType' has no 'endswith'")),
        (f"{SITE}/trl/trainer/sft_trainer.py", KeyError("text")),
        (f"{SITE}/trl/data_utils.py", IndexError("list index out of range")),
        # A template's own error, as jinja2 raises it from the template's code.
        ("<template>", jinja2.exceptions.TemplateError("roles must alternate")),
        (f"{SITE}/jinja2/environment.py", jinja2.exceptions.TemplateSyntaxError("'}'", 1)),
        (f"{SITE}/transformers/utils/chat_template_utils.py", jinja2.exceptions.UndefinedError()),
    ],
)
def test_what_trl_or_a_template_raises_on_bad_rows_is_a_refusal(
    filename: str, exc: BaseException
) -> None:
    assert is_refusal(raised_in(filename, exc))


def raised_by_function(module: str, function: str, exc: BaseException) -> BaseException:
    """exc, raised inside a function of that name, in that module."""
    namespace: dict[str, object] = {"exc": exc, "__name__": module}
    exec(compile(f"def {function}():\n    raise exc\n", "x.py", "exec"), namespace)
    try:
        namespace[function]()  # type: ignore[operator]
    except BaseException as caught:
        return caught
    raise AssertionError("not raised")


@pytest.mark.parametrize(
    ("module", "function", "refusal"),
    [
        ("transformers.tokenization_utils_base", "get_chat_template", True),
        ("transformers.trainer_utils", "validate_quantization_for_training", True),
        ("transformers.trainer", "_determine_best_metric", True),
        ("transformers.tokenization_utils_base", "from_pretrained", False),
        ("transformers.modeling_utils", "get_chat_template", False),
    ],
)
def test_transformers_refuses_the_job_only_in_named_functions(
    module: str, function: str, refusal: bool
) -> None:
    assert is_refusal(raised_by_function(module, function, ValueError("x"))) is refusal
    # metric_for_best_model not among the evaluation's metrics: transformers' KeyError
    assert is_refusal(raised_by_function(module, function, KeyError("x"))) is refusal
    assert not is_refusal(raised_by_function(module, function, OSError("x")))


def _chained(exc: BaseException, cause: BaseException | None, hide: bool = False) -> BaseException:
    try:
        try:
            raise cause or RuntimeError("no cause")
        except BaseException as inner:
            if hide:
                raise exc from None
            raise exc from (inner if cause is not None else None)
    except BaseException as caught:
        return caught


def test_what_local_data_raises_about_itself_is_a_data_refusal() -> None:
    from datasets.data_files import EmptyDatasetError
    from datasets.exceptions import DatasetGenerationError

    bad_row = ValueError("JSON parse error: Invalid encoding in string. in row 4")
    assert is_data_refusal(_chained(DatasetGenerationError("generating"), bad_row))
    assert is_data_refusal(_chained(EmptyDatasetError("no data files"), OSError(), hide=True))
    assert is_data_refusal(ValueError('Unknown split "validation"'))
    # A read that failed (network storage) is not the data.
    assert not is_data_refusal(_chained(DatasetGenerationError("generating"), OSError("EIO")))
    assert not is_data_refusal(_chained(ValueError("x"), OSError("stale file handle")))
    assert not is_data_refusal(RuntimeError("x"))
    # pyarrow's own, unwrapped: a torn cache file on the job's storage
    import pyarrow

    assert not is_data_refusal(pyarrow.lib.ArrowInvalid("Not an Arrow file"))
    assert is_data_refusal(
        _chained(DatasetGenerationError("generating"), pyarrow.lib.ArrowInvalid("JSON parse error"))
    )


def test_a_model_init_kwarg_the_model_refuses_is_named() -> None:
    from sftjob_trainer.trainer_refusal import unknown_model_kwarg

    refused = TypeError("Qwen2ForCausalLM.__init__() got an unexpected keyword argument 'foo'")
    assert unknown_model_kwarg(refused, {"foo": 1}) == "foo"
    # a key we set, or another error, is not the user's to remove
    assert unknown_model_kwarg(refused, {"dtype": "auto"}) is None
    assert unknown_model_kwarg(ValueError(str(refused)), {"foo": 1}) is None
