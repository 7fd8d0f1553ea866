"""Environment variable names that hold credentials: in spec.env they must come from a Secret.

A `value` written inline in spec.env is stored in the SFTJob, readable by everyone who can
read the object and copied into the Job's pod template. The admission policy
`sftjob-spec-rules` (sftjob_operator.admission.spec_policy) refuses these names with an
inline value and asks for `valueFrom.secretKeyRef` instead. This tuple is the one list of
them; the policy's rule is generated from it.
"""

from __future__ import annotations

SECRET_ENV_NAMES: tuple[str, ...] = (
    # Hugging Face Hub (huggingface_hub, trackio's Spaces and buckets).
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_HUB_TOKEN",
    # Trackers of sftConfig.report_to.
    "WANDB_API_KEY",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "DATABRICKS_TOKEN",
    "DAGSHUB_USER_TOKEN",
    "COMET_API_KEY",
    "NEPTUNE_API_TOKEN",
    "CLEARML_API_SECRET_KEY",
    "SWANLAB_API_KEY",
    # Object stores that MLflow and the other trackers upload artifacts to.
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
)
