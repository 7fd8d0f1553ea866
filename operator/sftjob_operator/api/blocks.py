"""The four TRL blocks of an SFTJob spec and the TRL dataclass behind each one."""

from typing import Final

SCRIPT_ARGS: Final = "scriptArgs"
DATASET_MIXTURE: Final = "datasetMixture"
MODEL_CONFIG: Final = "modelConfig"
SFT_CONFIG: Final = "sftConfig"

# spec key -> TRL dataclass name, in the order TRL's sft script parses them.
TRL_BLOCKS: Final[dict[str, str]] = {
    SCRIPT_ARGS: "ScriptArguments",
    SFT_CONFIG: "SFTConfig",
    MODEL_CONFIG: "ModelConfig",
    DATASET_MIXTURE: "DatasetMixtureConfig",
}
