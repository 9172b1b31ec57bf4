"""Augmentation of graded training inputs: exact shifts, training only, resumable."""
import numpy as np
import pytest

from delayprop.errors import ConfigError
from delayprop.training import ChannelShift, Compose, TimeShift, load_checkpoint, \
    save_checkpoint
from delayprop.training.experiment import ExperimentConfig

from test_training import build, task


class FixedDraws:
    """An rng whose ``integers`` returns given values, to check shifts by hand."""

    def __init__(self, values):
        self.values = np.asarray(values)

    def integers(self, low, high, size):
        assert len(self.values) == size and np.all((self.values >= low) &
                                                   (self.values < high))
        return self.values


def test_channel_shift_moves_each_sample_by_its_own_draw_and_fills_zeros():
    batch = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5) + 1
    out = ChannelShift(2)(batch, FixedDraws([2, -1]))
    np.testing.assert_array_equal(out[0, :, 2:], batch[0, :, :3])
    np.testing.assert_array_equal(out[0, :, :2], 0)
    np.testing.assert_array_equal(out[1, :, :4], batch[1, :, 1:])
    np.testing.assert_array_equal(out[1, :, 4], 0)


def test_time_shift_and_compose():
    batch = np.arange(2 * 4 * 3, dtype=np.float64).reshape(2, 4, 3) + 1
    out = TimeShift(3)(batch, FixedDraws([0, 3]))
    np.testing.assert_array_equal(out[0], batch[0])
    np.testing.assert_array_equal(out[1, 3], batch[1, 0])
    np.testing.assert_array_equal(out[1, :3], 0)
    rng = np.random.default_rng(0)
    both = Compose(ChannelShift(1), TimeShift(1))(batch, rng)
    assert both.shape == batch.shape
    # shifts only move values: every value in the output was in the input (or is 0)
    assert set(np.unique(both)) <= set(np.unique(batch)) | {0.0}
    assert ChannelShift(0)(batch, rng) is batch


def test_augmentation_changes_training_but_not_evaluation():
    x, y = task(32)
    plain, inp, out, _ = build(graded=True)
    h_plain = plain.train({inp: x}, {out: y}, 2)
    ev_plain = plain.evaluate({inp: x}, {out: y})
    shifted, inp2, out2, _ = build(graded=True)
    seen = []

    def spy(batch, rng):
        seen.append(batch.copy())
        return ChannelShift(2)(batch, rng)
    h_shifted = shifted.train({inp2: x}, {out2: y}, 2, augment={inp2: spy})
    assert len(seen) == 2 * 4                       # every training batch, nothing else
    assert [h["loss"] for h in h_plain] != [h["loss"] for h in h_shifted]
    before = len(seen)
    shifted.evaluate({inp2: x}, {out2: y})
    assert len(seen) == before                      # evaluation sees the data as it is
    # a network trained with the identity augmentation equals the plain one
    same, inp3, out3, _ = build(graded=True)
    h_same = same.train({inp3: x}, {out3: y}, 2, augment={inp3: lambda b, rng: b})
    assert [h["loss"] for h in h_same] == [h["loss"] for h in h_plain]
    assert same.evaluate({inp3: x}, {out3: y}) == ev_plain
    for net in (plain, shifted, same):
        net.close()


def test_augmented_training_resumes_bit_for_bit(tmp_path):
    x, y = task(24)
    aug = Compose(ChannelShift(2), TimeShift(3))
    straight, inp, out, _ = build(graded=True)
    straight.train({inp: x}, {out: y}, 4, augment={inp: aug})
    first, inp1, out1, _ = build(graded=True)
    first.train({inp1: x}, {out1: y}, 2, augment={inp1: aug})
    save_checkpoint(tmp_path / "c.npz", first)
    first.close()
    resumed, inp2, out2, _ = build(graded=True)
    load_checkpoint(tmp_path / "c.npz", resumed)
    resumed.train({inp2: x}, {out2: y}, 2, augment={inp2: aug})
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in straight.history]
    np.testing.assert_array_equal(resumed.param("ih", "g"), straight.param("ih", "g"))
    straight.close()
    resumed.close()


def test_bad_augmentations_are_clear_errors():
    x, y = task(8)
    spikes = [(np.nonzero(s)[0] * 1.0, np.nonzero(s)[1]) for s in x]
    net, inp, out, _ = build()
    with pytest.raises(ConfigError, match="graded inputs only"):
        net.train({inp: spikes}, {out: y}, 1, augment={inp: ChannelShift(1)})
    with pytest.raises(ConfigError, match="not an input population"):
        net.train({inp: spikes}, {out: y}, 1, augment={out: ChannelShift(1)})
    net.close()
    graded, inp, out, _ = build(graded=True)
    with pytest.raises(Exception, match="augmentation returned shape"):
        graded.train({inp: x}, {out: y}, 1, augment={inp: lambda b, rng: b[:, :5]})
    graded.close()
    with pytest.raises(ConfigError, match="max_shift"):
        ChannelShift(-1)
    with pytest.raises(ConfigError, match="graded inputs"):
        ExperimentConfig(data="shd", augment_shift=2)
    with pytest.raises(ConfigError, match="augment_time_shift"):
        ExperimentConfig(augment_time_shift=1.5)
