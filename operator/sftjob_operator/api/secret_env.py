"""Environment variable names that hold credentials: in spec.env they must come from a Secret.

A `value` written inline in spec.env is stored in the SFTJob, readable by everyone who can
read the object and copied into the Job's pod template. The admission policy
`sftjob-spec-rules` (sftjob_operator.admission.spec_policy) refuses these names with an
inline value (or any source but a Secret) and asks for `valueFrom.secretKeyRef` instead.
These tuples are the one list of them: the policy's rules and render's wiring of the Hub
token are generated from them.
"""

from __future__ import annotations

# spec.hubTokenSecretRef reaches the pods under this name; a spec.env entry of this name
# from a Secret does the same (then hubTokenSecretRef must be left out).
HUB_TOKEN_ENV = "HF_TOKEN"
# The names huggingface_hub reads a token from (utils/_auth.py, HF_TOKEN first): a push to
# the Hub works with any of them, from a Secret.
HUB_TOKEN_ENV_NAMES: tuple[str, ...] = (HUB_TOKEN_ENV, "HUGGING_FACE_HUB_TOKEN")

SECRET_ENV_NAMES: tuple[str, ...] = (
    # Hugging Face Hub (huggingface_hub, trackio's Spaces and buckets).
    *HUB_TOKEN_ENV_NAMES,
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
