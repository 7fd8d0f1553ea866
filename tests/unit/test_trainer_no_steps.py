"""no_steps.no_step_problem: a run that trained nothing names what to change."""

from __future__ import annotations

from sftjob_trainer.no_steps import no_step_problem


def test_no_epochs_and_no_max_steps() -> None:
    problem = no_step_problem(0, -1, drop_last=False, rows=40, batch=2)
    assert problem == (
        "trl.yaml: training ran no step, so no model is saved: `num_train_epochs` is 0 and "
        "`max_steps` is not set; set either to a positive number"
    )


def test_dropping_the_last_batch_of_too_few_rows() -> None:
    problem = no_step_problem(3.0, 2, drop_last=True, rows=8, batch=16)
    assert "the prepared train split has 8 rows, fewer than one batch (16:" in problem
    assert "write `dataloader_drop_last: false`" in problem
    # enough rows for a batch: not the reason
    assert "dataloader_drop_last" not in no_step_problem(3.0, 2, True, rows=16, batch=16)


def test_any_other_empty_run_names_its_rows() -> None:
    assert "(prepared rows: none, max_steps: 5)" in no_step_problem(3.0, 5, False, None, 4)
    assert "(prepared rows: 0, max_steps: -1)" in no_step_problem(1.0, -1, False, 0, 4)
