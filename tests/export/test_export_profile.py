"""Hardware profiles: built-in limits (docs/design.md, "Export targets"), user-defined
ones, bad values."""
import dataclasses

import numpy as np
import pytest

from delayprop.errors import ConfigError
from delayprop.export import PROFILES, HardwareProfile, get_profile, load_profile, profile_from_dict


def test_builtin_limits_are_the_documented_ones():
    s, x, lo = PROFILES["spinnaker"], PROFILES["spinnaker-delay-ext"], PROFILES["loihi2"]
    assert (s.min_delay_ticks, s.max_delay_ticks, s.delay_offset) == (1, 16, 1)
    assert (x.min_delay_ticks, x.max_delay_ticks) == (1, 144)
    assert s.max_row_length == 255 and s.neurons_per_core == 256
    assert s.mantissa_range == (0, 65535) and s.weight_sign == "receptor"
    assert s.scale_scope == "post_receptor" and not s.graded_events
    assert (lo.min_delay_ticks, lo.max_delay_ticks, lo.delay_offset) == (0, 62, 0)
    assert lo.mantissa_range == (-128, 127) and lo.scale_scope == "projection"


def test_delay_mapping_includes_the_step_order_offset():
    """delayprop d arrives after d + 1 steps: SpiNNaker d + 1 ticks, Loihi 2 delay d."""
    assert PROFILES["spinnaker"].ticks(np.array([0, 15])).tolist() == [1, 16]
    assert PROFILES["loihi2"].ticks(62) == 62


def test_delay_slots_is_the_ring_size_d():
    """delay_slots is in the unit of max_delay / --max-delay: the ring size D, delays
    0..D-1; a network with max_delay == delay_slots fits, one more does not."""
    assert PROFILES["spinnaker"].delay_slots == 16           # d 0..15 -> 1..16 ticks
    assert PROFILES["spinnaker-delay-ext"].delay_slots == 144
    assert PROFILES["loihi2"].delay_slots == 63              # d 0..62 -> 0..62 ticks
    assert HardwareProfile("free").delay_slots is None
    for p in PROFILES.values():
        top = p.delay_slots - 1
        assert p.ticks(top) == p.max_delay_ticks < p.ticks(top + 1)
    from delayprop.training.experiment import ExperimentConfig, _check_hardware
    _check_hardware(ExperimentConfig(max_delay=16, hardware="spinnaker"), graded=False)
    with pytest.raises(ConfigError, match=r"delays up to 15 steps \(16 ticks\), a ring size "
                                          r"of 16; got --max-delay 17: use --max-delay 16"):
        _check_hardware(ExperimentConfig(max_delay=17, hardware="spinnaker"), graded=False)
    with pytest.raises(ConfigError, match="delay_slots .*ring size D.* >= 1, got 0"):
        HardwareProfile("none", max_delay_ticks=0, delay_offset=1)
    assert HardwareProfile("one", max_delay_ticks=0, delay_offset=0).delay_slots == 1


def test_profiles_saved_by_old_runs_read_the_same(tmp_path):
    """A profile is saved by its fields (ticks), never by delay_slots, so the profile of
    an export report written before delay_slots existed reads back to the same limits."""
    old = {"name": "spinnaker", "max_fan_in": None, "max_row_length": 255,
           "min_delay_ticks": 1, "max_delay_ticks": 16, "delay_offset": 1, "weight_bits": 16,
           "weight_sign": "receptor", "scale_scope": "post_receptor",
           "neurons_per_core": 256, "graded_events": False,
           "description": PROFILES["spinnaker"].description}
    assert profile_from_dict(old) == PROFILES["spinnaker"]
    assert "delay_slots" not in PROFILES["spinnaker"].to_dict()
    assert profile_from_dict(PROFILES["loihi2"].to_dict()).delay_slots == 63


def test_user_profiles_from_dict_and_files(tmp_path):
    p = profile_from_dict({"base": "spinnaker", "max_fan_in": 64})
    assert p.max_fan_in == 64 and p.max_delay_ticks == 16 and p.name == "spinnaker-custom"
    (tmp_path / "chip.toml").write_text('name = "chip"\nmax_fan_in = 8\nweight_bits = 4\n'
                                        'max_delay_ticks = 7\n')
    chip = get_profile(tmp_path / "chip.toml")
    assert (chip.name, chip.max_fan_in, chip.mantissa_range) == ("chip", 8, (-8, 7))
    (tmp_path / "c.json").write_text('{"base": "loihi2", "name": "l"}')
    assert load_profile(tmp_path / "c.json") == dataclasses.replace(PROFILES["loihi2"], name="l")
    assert get_profile(chip) is chip


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_fan_in=-1), "max_fan_in must be a whole number >= 0"),
    (dict(max_row_length=2.5), "max_row_length must be"),
    (dict(min_delay_ticks=5, max_delay_ticks=3), r"delay range \[5, 3\] ticks is empty"),
    (dict(delay_offset=2), "delay_offset must be 0 or 1"),
    (dict(weight_bits=1), r"weight_bits must be a whole number in \[2, 52\]"),
    (dict(weight_sign="abs"), "weight_sign must be one of"),
    (dict(scale_scope="core"), "scale_scope must be one of"),
    (dict(neurons_per_core=0), "neurons_per_core must be >= 1"),
    (dict(min_delay_ticks=-1), "min_delay_ticks must be"),
])
def test_bad_profile_values(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        HardwareProfile("bad", **kwargs)


def test_bad_profile_sources(tmp_path):
    with pytest.raises(ConfigError, match="unknown hardware profile 'spinaker'"):
        get_profile("spinaker")
    with pytest.raises(ConfigError, match=r"unknown profile key\(s\) \['fanin'\]"):
        profile_from_dict({"name": "x", "fanin": 3})
    with pytest.raises(ConfigError, match="needs a 'name'"):
        profile_from_dict({"max_fan_in": 3})
    (tmp_path / "bad.toml").write_text("name = ")
    with pytest.raises(ConfigError, match="not a valid .toml profile"):
        load_profile(tmp_path / "bad.toml")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ConfigError, match="must be a table/object"):
        load_profile(tmp_path / "list.json")
    with pytest.raises(ConfigError, match="cannot read hardware profile"):
        load_profile(tmp_path / "missing.toml")
