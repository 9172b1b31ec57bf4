"""Figures: layout, colour convention (red positive, blue negative, white zero), files."""
import numpy as np
import pytest

from delayprop.analysis import compare_morans, plot_morans_distributions, plot_receptive_fields
from delayprop.errors import ConfigError


def _visible_axes(fig):
    return [ax for ax in fig.axes if ax.axison]


def test_receptive_field_colours_and_labels(tmp_path):
    field = np.array([[2.0, 0.0], [0.0, -1.0]])
    fig = plot_receptive_fields(field, path=tmp_path / "sub" / "rf.png")
    assert (tmp_path / "sub" / "rf.png").stat().st_size > 0
    (ax,) = _visible_axes(fig)
    image = ax.images[0]
    assert image.norm.vmin == -2.0 and image.norm.vmax == 2.0     # symmetric about 0
    red, blue, white = (image.cmap(image.norm(v)) for v in (2.0, -2.0, 0.0))
    assert red[0] > 2 * max(red[1], red[2])                       # positive is red
    assert blue[2] > 2 * max(blue[0], blue[1])                    # negative is blue
    assert min(white[:3]) > 0.9                                   # zero is (near) white
    assert ax.get_xlabel().startswith("delay (steps") and ax.get_ylabel() == "input channel"


def test_before_after_grid():
    rng = np.random.default_rng(0)
    final, initial = rng.normal(size=(2, 7, 3, 5))
    fig = plot_receptive_fields(final, initial, per_row=3, dt=1.0, title="run")
    axes = _visible_axes(fig)
    assert len(axes) == 14                                        # 7 outputs x 2 panels
    titles = [ax.get_title() for ax in axes]
    assert titles[0].startswith("output 0, initial") and titles[1].startswith("output 0, final")
    # Labels on the outer panels only: time axis where nothing is below, channels at left.
    assert axes[0].get_xlabel() == "" and axes[0].get_ylabel() == "input channel"
    assert axes[-1].get_xlabel() == "delay (steps of 1 ms)" and axes[-1].get_ylabel() == ""
    assert axes[8].get_xlabel() == "delay (steps of 1 ms)"      # output 4: nothing below
    chosen = plot_receptive_fields(final, initial, outputs=[4])
    assert [ax.get_title().split(" (")[0] for ax in _visible_axes(chosen)] == \
        ["output 4, initial", "output 4, final"]


def test_all_zero_field_draws():
    fig = plot_receptive_fields(np.zeros((1, 3, 4)))
    assert _visible_axes(fig)[0].images[0].norm.vmax == 1.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(final=np.zeros(3)), r"must have shape \(outputs, channels, delays\)"),
    (dict(final=np.zeros((2, 3, 4)), initial=np.zeros((3, 3, 4))),
     "initial fields have 3 outputs x 3 channels, final fields 2 x 3"),
    (dict(final=np.zeros((2, 3, 4)), outputs=[2]), r"indices in \[0, 2\), got \[2\]"),
])
def test_bad_receptive_field_inputs(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        plot_receptive_fields(**kwargs)


def test_distribution_plot_title_carries_u_and_p(tmp_path):
    a, b = [0.3, 0.4, 0.5], [0.0, 0.1, 0.2]
    result = compare_morans(a, b, label_a="trained", label_b="untrained")
    fig = plot_morans_distributions({"trained": a, "untrained": b}, result, title="dense",
                                    path=tmp_path / "m.png")
    assert (tmp_path / "m.png").stat().st_size > 0
    (ax,) = fig.axes
    title = ax.get_title()
    assert title.startswith("dense\n")
    assert "trained vs untrained: U = 9, p = 0.1" in title
    assert [t.get_text() for t in ax.get_xticklabels()] == ["trained", "untrained"]
    dots = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
    np.testing.assert_allclose(np.sort(dots), np.sort(a + b))     # every value drawn


def test_bad_distribution_inputs():
    with pytest.raises(ConfigError, match="groups is empty"):
        plot_morans_distributions({})
    with pytest.raises(ConfigError, match=r"group\(s\) \['b'\] have no values"):
        plot_morans_distributions({"a": [1.0], "b": []})
