"""The trainer refuses an attention or kernel setting whose package the image lacks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sftjob_trainer.config_check import ConfigError
from sftjob_trainer.kernels import (
    attention_names,
    check_kernels,
    gpu_available,
    kernel_problems,
    module_importable,
    unknown_attention,
)


def importable_from(*modules: str) -> Callable[[str], bool]:
    return lambda module: module in modules


@pytest.mark.parametrize(
    ("attn", "liger", "have", "expected"),
    [
        (None, False, (), []),
        ("sdpa", False, (), []),
        ("eager", True, ("liger_kernel",), []),
        ("flash_attention_2", False, ("flash_attn",), []),
        ("flash_attention_3", False, ("flash_attn_interface",), []),
        ("flash_attention_2", False, (), ["`flash_attention_2` needs flash-attn"]),
        ("flash_attention_3", False, ("flash_attn",), ["`flash_attention_3` needs flash-attn-3"]),
        (None, True, (), ["use_liger_kernel is true but this trainer image does not have"]),
        ("flash_attention_2", True, (), ["needs flash-attn", "use_liger_kernel is true"]),
        # transformers fetches a flash-attention build from the Hub with `kernels`.
        ("flash_attention_2", False, ("kernels",), []),
        ("flex_attention", False, (), []),
    ],
)
def test_kernel_problems(
    attn: str | None, liger: bool, have: tuple[str, ...], expected: list[str]
) -> None:
    problems = kernel_problems(attn, liger, importable_from(*have))
    assert len(problems) == len(expected)
    for problem, fragment in zip(problems, expected, strict=True):
        assert fragment in problem


@pytest.mark.parametrize(
    ("attn", "liger", "have", "expected"),
    [
        ("sdpa", False, (), []),
        ("flex_attention", False, (), ["`flex_attention` cannot train without a GPU"]),
        (None, True, ("liger_kernel",), ["use_liger_kernel is true but there is no GPU"]),
        # Without the package either: the GPU is the first thing to fix, said once.
        (None, True, (), ["use_liger_kernel is true but there is no GPU"]),
        ("flex_attention", True, (), ["`flex_attention` cannot", "no GPU here"]),
        ("eager", False, (), []),
        ("kernels-community/flash-attn", False, (), ["cannot train without a GPU"]),
    ],
)
def test_kernel_problems_without_a_gpu(
    attn: str | None, liger: bool, have: tuple[str, ...], expected: list[str]
) -> None:
    problems = kernel_problems(attn, liger, importable_from(*have), gpu=False)
    assert len(problems) == len(expected)
    for problem, fragment in zip(problems, expected, strict=True):
        assert fragment in problem


def test_a_missing_flash_attn_says_what_to_write_instead() -> None:
    (problem,) = kernel_problems("flash_attention_2", False, importable_from())
    assert problem.startswith("trl.yaml: attn_implementation `flash_attention_2`")
    assert "write `attn_implementation: sdpa`" in problem
    assert "-fast variant" in problem
    (problem,) = kernel_problems("flash_attention_3", False, importable_from())
    assert "-fast" not in problem and "an image built with it" in problem


def test_check_kernels_on_this_environment() -> None:
    # The test environment is the trainer image's Python stack: Liger is in it, flash-attn
    # (a CUDA build) is not on this CPU machine.
    assert module_importable("liger_kernel")
    check_kernels("sdpa", False)
    if not gpu_available():
        with pytest.raises(ConfigError, match="use_liger_kernel is true but there is no GPU"):
            check_kernels("sdpa", True)
    with pytest.raises(ConfigError, match="`flex_attention` cannot train without a GPU"):
        check_kernels("flex_attention", False, use_cpu=True)
    if not module_importable("flash_attn"):
        with pytest.raises(ConfigError, match="flash_attention_2"):
            check_kernels("flash_attention_2", False)


@pytest.mark.parametrize(
    ("attention", "unknown"),
    [
        ("flash_attention2", True),  # a typo transformers refuses when the model loads
        ("flash_garbage", True),
        ("sdpa", False),
        ("eager", False),
        ("flash_attention_2", False),
        (None, False),
        ("kernels-community/flash-attn", False),  # a Hub kernel: transformers' to fetch
        ("paged|sdpa", False),
    ],
)
def test_an_attention_transformers_does_not_have_is_named(
    attention: str | None, unknown: bool
) -> None:
    known = attention_names()
    assert unknown_attention(attention, known) is unknown
    problems = kernel_problems(attention, False, lambda m: True, gpu=False, known_attention=known)
    if unknown:
        assert problems == [
            f"trl.yaml: attn_implementation `{attention}` is not an attention transformers has; "
            f"write one of {', '.join(sorted(known))}"
        ]  # not "cannot train without a GPU", the wrong reason


def test_a_composite_models_attention_per_sub_config_is_checked_name_by_name() -> None:
    known = attention_names()
    per_config = {"text_config": "sdpa", "vision_config": "eager"}
    assert (
        kernel_problems(per_config, False, lambda m: True, gpu=False, known_attention=known) == []
    )
    typo = {"text_config": "flash_attention2", "vision_config": "eager"}
    (problem,) = kernel_problems(typo, False, lambda m: True, gpu=True, known_attention=known)
    assert problem.startswith(
        "trl.yaml: attn_implementation `flash_attention2` is not an attention"
    )
