"""Refuse an attention or kernel setting this image cannot run, before anything loads.

Recipes from the field ask for `attn_implementation: flash_attention_2` (alignment-handbook's
`use_flash_attention_2: true` becomes it) and `use_liger_kernel: true`. The default trainer
image has no flash-attn (trainer_image/Dockerfile), and transformers finds that out only
when it loads the model, after the dataset has been downloaded and prepared. This check
runs first, names the key, and says what to write instead. Liger's kernels (Triton) and
any attention but sdpa and eager need a GPU (a CUDA device: the image is built for CUDA):
on a CPU node they fail at the first step (Triton's "0 active drivers", flex attention's
NotImplementedError for backward), so they are refused there too. `sftjob run --local`
uses CPU_ATTENTION to switch a GPU job's attention on a machine without a GPU.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Collection, Mapping
from typing import Any

from .config_check import ConfigError

# attn_implementation -> the module transformers imports for it, its PyPI package, and an
# image that has it.
ATTENTION_PACKAGES = {
    "flash_attention_2": (
        "flash_attn",
        "flash-attn",
        "the trainer image's -fast variant (trainer_image/Dockerfile)",
    ),
    "flash_attention_3": (
        "flash_attn_interface",
        "flash-attn-3 (FlashAttention-3's hopper build)",
        "an image built with it",
    ),
}
# With the `kernels` package, transformers fetches a missing flash-attention build from
# the Hub instead of failing: nothing to refuse then.
HUB_KERNELS = "kernels"
LIGER = ("liger_kernel", "liger-kernel")
FALLBACK_ATTENTION = "sdpa"
# The attn_implementation values that train on CPU (FALLBACK_ATTENTION first).
CPU_ATTENTION = (FALLBACK_ATTENTION, "eager")


def needs_gpu(attn_implementation: str | None) -> bool:
    """Whether an attn_implementation cannot train on CPU (None: transformers' default)."""
    return attn_implementation not in (None, *CPU_ATTENTION)


def unknown_attention(attn_implementation: str | None, known: Collection[str]) -> bool:
    """A plain name transformers has no attention for (`flash_attention2`), as its own check
    says; a Hub kernel (`kernels-community/...`) and a `paged|` form are its to check."""
    name = attn_implementation
    return name is not None and "/" not in name and "|" not in name and name not in known


def kernel_problems(
    attn_implementation: str | Mapping[str, Any] | None,
    use_liger_kernel: bool,
    importable: Callable[[str], bool],
    gpu: bool = True,
    known_attention: Collection[str] = (),
) -> list[str]:
    """Pure: one message per setting whose package `importable` says is missing, or that
    needs a GPU where there is none; with `known_attention`, an attention of another name.
    A composite model's attention per sub-config (`{text_config: sdpa, ...}`, which
    transformers takes) is checked name by name."""
    if isinstance(attn_implementation, Mapping):
        found = [
            problem
            for name in dict.fromkeys(attn_implementation.values())
            if isinstance(name, str | None)
            for problem in kernel_problems(name, False, importable, gpu, known_attention)
        ]
        return found + kernel_problems(None, use_liger_kernel, importable, gpu)
    # Without a GPU, that is the one thing to say of a setting; its package comes after.
    problems = []
    if known_attention and unknown_attention(attn_implementation, known_attention):
        problems.append(
            f"trl.yaml: attn_implementation `{attn_implementation}` is not an attention "
            f"transformers has; write one of {', '.join(sorted(known_attention))}"
        )
    elif not gpu and needs_gpu(attn_implementation):
        problems.append(
            f"trl.yaml: attn_implementation `{attn_implementation}` cannot train without a "
            f"GPU; write `attn_implementation: {FALLBACK_ATTENTION}`, or run on GPU nodes"
        )
    elif attn_implementation in ATTENTION_PACKAGES:
        module, package, image = ATTENTION_PACKAGES[attn_implementation]
        if not importable(module) and not importable(HUB_KERNELS):
            problems.append(
                f"trl.yaml: attn_implementation `{attn_implementation}` needs {package}, which "
                f"this trainer image does not have; write `attn_implementation: "
                f"{FALLBACK_ATTENTION}` (PyTorch's fused attention), or use {image}"
            )
    if not gpu and use_liger_kernel:
        problems.append(
            "trl.yaml: use_liger_kernel is true but there is no GPU here (Liger's kernels "
            "are Triton, GPU only); write `use_liger_kernel: false`, or run on GPU nodes"
        )
    elif use_liger_kernel and not importable(LIGER[0]):
        problems.append(
            f"trl.yaml: use_liger_kernel is true but this trainer image does not have "
            f"{LIGER[1]}; write `use_liger_kernel: false`, or use an image with {LIGER[1]}"
        )
    return problems


def module_importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def attention_names() -> list[str]:
    """The attn_implementation names transformers takes, as its own check lists them."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    return ["eager", *ALL_ATTENTION_FUNCTIONS.valid_keys()]


def gpu_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def check_kernels(
    attn_implementation: str | Mapping[str, Any] | None,
    use_liger_kernel: bool,
    use_cpu: bool = False,
) -> None:
    """Raise ConfigError naming every kernel setting that would fail when the model loads
    or at the first step."""
    gpu = not use_cpu and gpu_available()
    problems = kernel_problems(
        attn_implementation, use_liger_kernel, module_importable, gpu, attention_names()
    )
    if problems:
        raise ConfigError("; ".join(problems))
