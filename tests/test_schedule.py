"""The learning-rate schedule and the stopping rule (no training: the rules alone)."""
import pytest
from pydantic import ValidationError

from pano360.training.config import TrainParams
from pano360.training.optim import advance_schedule, lr_factor
from pano360.training.resume import ResumeState


def test_plateau_schedule_warms_up_then_holds_the_peak_and_decays_per_plateau():
    warmup = 10
    assert [lr_factor(s, 1000, warmup, "plateau") for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    # no epoch count in it: the same at step 50 and step 50,000 of a "1000-step" run
    assert lr_factor(50, 1000, warmup, "plateau") == lr_factor(50_000, 1000, warmup, "plateau") == 1.0
    assert lr_factor(500, 1000, warmup, "plateau", decays=2, decay_rate=0.1) == pytest.approx(0.01)
    # cosine as before: warm-up, then down to 1 % at the last step
    assert lr_factor(4, 1000, warmup, "cosine") == pytest.approx(0.5)
    assert lr_factor(10, 1000, warmup, "cosine") == pytest.approx(1.0)
    assert lr_factor(1000, 1000, warmup, "cosine") == pytest.approx(0.01)


def run_rule(improvements, **train):
    """Feed a sequence of improved / not improved epochs; returns the epochs (1-based) at which
    the lr decayed and the one at which training stopped (None: it ran them all)."""
    t, state, decays = TrainParams(**train), ResumeState(), []
    for epoch, improved in enumerate(improvements):
        stop, decayed = advance_schedule(state, improved, epoch, t)
        if decayed:
            decays.append(epoch + 1)
        if stop:
            return decays, epoch + 1, state
    return decays, None, state


def test_the_plateau_rule_decays_every_patience_epochs_and_stops_after_early_stop_patience():
    # best at epoch 3, then nothing better: decays after epochs 7 and 11, stop after epoch 13
    decays, stopped, state = run_rule([True] * 3 + [False] * 20, plateau_patience=4, early_stop_patience=10)
    assert decays == [7, 11] and stopped == 13 and state.lr_decays == 2
    # an improvement after a decay (what the decay is for) resets both counts
    decays, stopped, _ = run_rule([True] * 3 + [False] * 4 + [True] + [False] * 20, plateau_patience=4,
                                  early_stop_patience=10)
    assert decays == [7, 12, 16] and stopped == 18
    # cosine never decays on a plateau; patience 0 never stops
    assert run_rule([True] + [False] * 30, schedule="cosine", early_stop_patience=10)[:2] == ([], 11)
    decays, stopped, _ = run_rule([True] + [False] * 30, epochs=31, early_stop_patience=0, plateau_patience=4)
    assert stopped is None and decays == [5, 9, 13, 17, 21, 25, 29]
    # no stop at the last epoch (the run ends there anyway) and no decay when stopping
    assert run_rule([True] + [False] * 10, epochs=11, plateau_patience=4, early_stop_patience=10)[1] is None


def test_defaults_train_until_val_map_stops_improving_within_a_generous_maximum():
    t = TrainParams()
    assert t.schedule == "plateau" and t.epochs >= 100 and t.early_stop_patience > 2 * t.plateau_patience


def test_stopping_before_any_decay_is_refused_with_the_keys():
    with pytest.raises(ValidationError, match="early_stop_patience 4 is not above train.plateau_patience 4"):
        TrainParams(early_stop_patience=4, plateau_patience=4)
    TrainParams(early_stop_patience=0, plateau_patience=4)              # never stop: fine
    TrainParams(early_stop_patience=3, plateau_patience=4, schedule="cosine")
