"""Where things are inside a trainer pod, and where a spec's paths resolve to.

Every output lands on the job's storage, mounted at STORAGE_MOUNT. A relative `output_dir`
(recipes write `data/zephyr-7b-sft-full` or `./sft_output`) resolves under the mount; an
absolute one must already be inside it, or the spec is refused (at admission, by the CRD rule
that `output_dir_rules` builds from the same constants).
"""

from __future__ import annotations

import posixpath
from typing import Final

from sftjob_operator.api.translation import SpecError, show

STORAGE_MOUNT: Final = "/workspace/output"
CONFIG_DIR: Final = "/etc/sftjob"
TRL_CONFIG_FILE: Final = "trl.yaml"
ACCELERATE_CONFIG_FILE: Final = "accelerate.yaml"
DEEPSPEED_CONFIG_FILE: Final = "deepspeed.json"
CHAT_TEMPLATE_FILE: Final = "chat_template.jinja"
# The trainer's own settings (recipe extensions such as mixture weights), beside trl.yaml.
TRAINER_SETTINGS_FILE: Final = "sftjob.yaml"
CHAT_TEMPLATE_PATH: Final = f"{CONFIG_DIR}/{CHAT_TEMPLATE_FILE}"
# The datasets library's cache (downloads, Arrow files, the tokenized and packed dataset) on
# the storage, so a restarted attempt loads the prepared dataset instead of preparing it
# again. Under `.cache/huggingface`, which push_to_hub's upload of output_dir leaves out.
DATASETS_CACHE: Final = f"{STORAGE_MOUNT}/.cache/huggingface/datasets"

OUTPUT_DIR_FIELD: Final = "spec.sftConfig.output_dir"
OUTPUT_DIR_ADVICE: Final = (
    f"outputs must land on the job's storage, mounted at {STORAGE_MOUNT}: write a relative "
    f"path (it resolves under {STORAGE_MOUNT}), a path under {STORAGE_MOUNT}, or leave "
    "output_dir out"
)


def _escapes(path: str) -> bool:
    return ".." in path.split("/")


def resolve_output_dir(value: str | None) -> str:
    """The in-pod output directory for the spec's `output_dir`."""
    if value is None or value.strip() in ("", "."):
        return STORAGE_MOUNT
    if _escapes(value):
        raise SpecError(
            OUTPUT_DIR_FIELD, f"{show(value)} leaves the storage with '..': {OUTPUT_DIR_ADVICE}"
        )
    if value.startswith("/"):
        resolved = posixpath.normpath(value)
        if resolved != STORAGE_MOUNT and not resolved.startswith(STORAGE_MOUNT + "/"):
            raise SpecError(
                OUTPUT_DIR_FIELD, f"{show(value)} is outside the job's storage: {OUTPUT_DIR_ADVICE}"
            )
        return resolved
    return posixpath.normpath(posixpath.join(STORAGE_MOUNT, value))


def output_dir_rules() -> list[tuple[str, str]]:
    """CEL (rule, message) pairs on the output_dir field, the same test as resolve_output_dir."""
    mount = STORAGE_MOUNT
    return [
        (
            f"!self.startsWith('/') || self == '{mount}' || self == '{mount}/' || "
            f"self.startsWith('{mount}/')",
            f"{OUTPUT_DIR_FIELD} is outside the job's storage: {OUTPUT_DIR_ADVICE}",
        ),
        (
            r"!self.matches('(^|/)\\.\\.(/|$)')",
            f"{OUTPUT_DIR_FIELD} leaves the storage with '..': {OUTPUT_DIR_ADVICE}",
        ),
    ]
