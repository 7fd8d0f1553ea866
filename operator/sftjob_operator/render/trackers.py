"""Where the trackers of sftConfig.report_to write: on the job's storage.

Left to their defaults, the trackers write into the container's working directory or
$HOME, which die with the pod (what the installed transformers 5.24, wandb 0.31, trackio
0.43 and mlflow-skinny 3.17 do):

- tensorboard: transformers' TensorBoardCallback writes `<output_dir>/runs/<date>_<host>`
  (`logging_dir` was removed in transformers 5; TENSORBOARD_LOGGING_DIR overrides it).
  output_dir is always on the storage, so it needs nothing here, and each attempt keeps
  its own run directory.
- wandb: `<WANDB_DIR>/wandb/run-*`, WANDB_DIR defaulting to the working directory.
- trackio: its SQLite database and media under TRACKIO_DIR, default `$HF_HOME/trackio`.
- mlflow: MLFLOW_TRACKING_URI, default `sqlite:///mlflow.db` in the working directory,
  which mlflow-skinny cannot open (no SQLAlchemy). A `file:` store on the storage works
  with it, and MLflow 3 refuses a file store unless MLFLOW_ALLOW_FILE_STORE is true. A
  remote tracking server is set with the user's own MLFLOW_TRACKING_URI.

A user's spec.env entry of the same name wins: its default is then not rendered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sftjob_operator.render.configmap import OUTPUT_DIR
from sftjob_operator.render.env_defaults import unset_defaults

TRACKER_ENV: tuple[tuple[str, str], ...] = (
    ("WANDB_DIR", OUTPUT_DIR),
    ("TRACKIO_DIR", f"{OUTPUT_DIR}/trackio"),
    ("MLFLOW_TRACKING_URI", f"file://{OUTPUT_DIR}/mlruns"),
    ("MLFLOW_ALLOW_FILE_STORE", "true"),
)


def tracker_env(user_env: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The tracker defaults, less those the user's spec.env sets itself."""
    return unset_defaults(TRACKER_ENV, user_env)
