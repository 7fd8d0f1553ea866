"""A run that trained no step. Pure.

transformers finishes such a run without a word: `num_train_epochs: 0` without `max_steps`
plans none, and `dataloader_drop_last` with fewer rows than one batch leaves an empty
epoch. The trainer would then save the untouched model as if it were fine-tuned, and the
job would succeed; it is refused instead, before anything is saved.
"""

from __future__ import annotations


def no_step_problem(
    num_train_epochs: float,
    max_steps: int,
    drop_last: bool,
    rows: int | None,
    batch: int,
) -> str:
    """Why no step was trained, naming the fields to change. `rows` is the length of the
    prepared train split (None when streamed) and `batch` the rows one step reads across
    every process."""
    if max_steps <= 0 and num_train_epochs <= 0:
        why = (
            f"`num_train_epochs` is {num_train_epochs:g} and `max_steps` is not set; set either "
            "to a positive number"
        )
    elif drop_last and rows is not None and rows < batch:
        why = (
            f"`dataloader_drop_last` is true and the prepared train split has {rows} rows, "
            f"fewer than one batch ({batch}: per_device_train_batch_size times the processes); "
            "write `dataloader_drop_last: false`, a smaller per_device_train_batch_size, or "
            "add rows"
        )
    else:
        shown = "none" if rows is None else str(rows)
        why = (
            f"the train split gave no batch (prepared rows: {shown}, max_steps: {max_steps}); "
            "point the job at data with rows to train on"
        )
    return f"trl.yaml: training ran no step, so no model is saved: {why}"
