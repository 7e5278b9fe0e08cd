"""Each stop condition of claim 2 ends the run, checkpoints it and reports its reason."""

from __future__ import annotations

import time

from train_helpers import quiet, small_config

from stillmotion_trainer.training.checkpoint import load_checkpoint, step_checkpoint_path
from stillmotion_trainer.training.events import EventSink, RecordingEvents
from stillmotion_trainer.training.loop import train
from stillmotion_trainer.training.run_dir import stop_file
from stillmotion_trainer.training.stop_conditions import REASONS, decode_reason, encode_reason


def _run(tmp_path, events=None, external_stop=None, **sections):
    cfg = small_config(**sections)
    result = train(cfg, run_dir=tmp_path, events=events, external_stop=external_stop, log=quiet)
    # whatever the reason, the stop step is checkpointed
    ckpt = load_checkpoint(step_checkpoint_path(tmp_path, result.step))
    assert ckpt["step"] == result.step
    return result


def test_max_steps(tmp_path):
    result = _run(tmp_path, stop={"max_steps": 3})
    assert (result.reason, result.step) == ("max_steps", 3)


def test_max_epochs(tmp_path):
    # 4 training videos x 2 clips = 8 clips = 4 batches of 2 per epoch
    result = _run(tmp_path, stop={"max_steps": None, "max_epochs": 2})
    assert (result.reason, result.step, result.epoch) == ("max_epochs", 8, 2)


def test_wall_clock_budget(tmp_path):
    class SlowStepTwo(EventSink):
        def on_step(self, step, metrics):
            if step == 2:
                time.sleep(3.1)  # the budget ends here, not at a loaded machine's slow step 1

    result = _run(tmp_path, events=SlowStepTwo(), stop={"max_steps": 50, "time_budget_s": 3.0})
    assert (result.reason, result.step) == ("time_budget", 2)
    ckpt = load_checkpoint(step_checkpoint_path(tmp_path, 2))
    assert ckpt["elapsed_s"] >= 3.0  # the budget's clock is stored, so it spans resumes
    # resuming a run whose budget is spent stops before any new step
    again = train(small_config(stop={"max_steps": 50, "time_budget_s": 3.0}), run_dir=tmp_path,
                  resume="auto", log=quiet)  # fmt: skip
    assert (again.reason, again.step) == ("time_budget", 2)


def test_target_loss(tmp_path):
    result = _run(tmp_path, stop={"max_steps": 50, "target_loss": 100.0})
    assert (result.reason, result.step) == ("target_loss", 1)
    never = _run(tmp_path / "b", stop={"max_steps": 2, "target_loss": 0.0})
    assert never.reason == "max_steps"


def test_early_stopping_on_validation_loss_with_patience(tmp_path):
    # min_delta larger than any possible change: only the first validation counts as improved
    events = RecordingEvents()
    result = _run(
        tmp_path,
        events=events,
        val={"every_n_steps": 1},
        stop={"max_steps": 50, "early_stopping": {"patience": 2, "min_delta": 10.0}},
    )
    assert (result.reason, result.step) == ("early_stopping", 3)
    assert [a[0] for a in events.named("on_validation")] == [1, 2, 3]
    assert result.best_checkpoint is not None
    assert load_checkpoint(result.best_checkpoint)["step"] == 1  # the one improvement


def test_stop_request_from_the_event_sink(tmp_path):
    events = RecordingEvents(stop_after_steps=2)
    result = _run(tmp_path, events=events, stop={"max_steps": 50})
    assert (result.reason, result.step) == ("stop_requested", 2)
    assert events.named("on_end") == [(2, "stop_requested")]


def test_stop_file_in_the_run_dir_is_honoured_then_removed(tmp_path):
    class TouchStop(EventSink):
        def on_step(self, step, metrics):
            if step == 2:
                stop_file(tmp_path).write_text("")

    result = _run(tmp_path, events=TouchStop(), stop={"max_steps": 50})
    assert (result.reason, result.step) == ("stop_file", 2)
    assert not stop_file(tmp_path).exists()


def test_external_stop_callable_is_the_signal_path(tmp_path):
    calls = []

    def requested() -> bool:
        calls.append(1)
        return len(calls) >= 3

    result = _run(tmp_path, external_stop=requested, stop={"max_steps": 50})
    assert (result.reason, result.step) == ("signal", 3)


def test_reasons_combine_across_ranks_by_priority():
    one, other = encode_reason("max_steps"), encode_reason("signal")
    summed = {name: one[name] + other[name] for name in REASONS}
    assert decode_reason(summed) == "signal"
    assert decode_reason(encode_reason(None)) is None
    assert all(decode_reason(encode_reason(r)) == r for r in REASONS)
