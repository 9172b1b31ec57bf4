"""validate_export runs the original on delayprop's engine (or Brian2) and the export in
Brian2; an unquantised export matches in both set-ups."""
import numpy as np
import pytest

from exporthelpers import tiny
from delayprop.errors import ConfigError
from delayprop.export import validate_export


@pytest.mark.parametrize("engine", ["delayprop", "brian2"])
def test_identity_export_is_spike_identical(engine):
    graph = tiny([9.0, 7.0, 8.5], [0, 1, 1], [0, 3, 5], pres=np.array([0, 1, 2]))
    inputs = {"in": [(np.array([1, 4, 9]), np.array([0, 1, 2])),
                     (np.array([2, 3]), np.array([2, 0]))]}
    report = validate_export(graph, graph, inputs, 30, readout="out", engine=engine)
    assert report.identical
    assert sum(p.spikes_original for p in report.populations.values()) > 0
    assert report.max_abs_dv_readout < 1e-12


def test_unknown_engine_is_rejected():
    graph = tiny([1.0], [0], [0])
    with pytest.raises(ConfigError, match="engine must be 'delayprop' or 'brian2'"):
        validate_export(graph, graph, {"in": [(np.array([1]), np.array([0]))]}, 5,
                        engine="nest")


def test_cli_target_names_match_the_writers():
    from delayprop.export._cli import TARGETS as CLI_TARGETS
    from delayprop.export.targets import TARGETS
    assert sorted(CLI_TARGETS) == sorted(TARGETS)
