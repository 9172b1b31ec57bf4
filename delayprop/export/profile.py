"""Hardware profiles: the limits of a neuromorphic target that an export must respect.

A :class:`HardwareProfile` is a frozen value. Three are built in (:data:`PROFILES`):
``spinnaker`` (sPyNNaker, delays 1..16 ticks per core), ``spinnaker-delay-ext`` (the same
with delay-extension stages, 1..144 ticks) and ``loihi2`` (delays 0..62, 8-bit weights with
a shared exponent per connection). A user-defined profile is built directly, with
:func:`dataclasses.replace` from a built-in one, or read from a TOML/JSON file
(:func:`load_profile`).

Delay mapping (docs/design.md, "Delay mapping"): a spike of step k through a synapse of
delay d (whole steps) enters the postsynaptic current in step ``k + 1 + d``. A target
whose delay of T ticks means "arrives T ticks after the spike" (sPyNNaker, PyNN) needs
``T = d + 1`` (``delay_offset = 1``); one whose delay 0 already arrives one tick later
(Loihi 2, whose spikes reach the next layer in the next time step) needs ``T = d``
(``delay_offset = 0``).
"""
from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from delayprop.delays import check_ring_size
from delayprop.errors import ConfigError

__all__ = ["HardwareProfile", "PROFILES", "get_profile", "load_profile", "profile_from_dict"]

WEIGHT_SIGNS = ("receptor", "signed")
SCALE_SCOPES = ("post_receptor", "projection")


@dataclass(frozen=True)
class HardwareProfile:
    """Limits of one target.

    Parameters
    ----------
    name : str
    max_fan_in : int or None
        Most synapses onto one postsynaptic neuron (all incoming projections together);
        None = no fixed limit.
    max_row_length : int or None
        Most synapses in one synaptic row: one presynaptic neuron, one projection, one
        receptor type (sign), one postsynaptic core; None = no limit.
    min_delay_ticks, max_delay_ticks : int
        Delay range of the target in ticks (one tick = one step ``dt``). A network fits
        when its ring size D (``max_delay``) is at most :attr:`delay_slots`.
    delay_offset : {0, 1}
        Target delay in ticks = delayprop delay ``d`` (steps) + ``delay_offset``.
    weight_bits : int or None
        Weight precision: magnitude bits (``weight_sign='receptor'``) or bits of a two's
        complement mantissa (``'signed'``); None = float weights (no quantisation).
    weight_sign : {'receptor', 'signed'}
        ``receptor``: the stored weight is a magnitude and the sign is the receptor type
        (excitatory and inhibitory synapses in separate projections), as on SpiNNaker.
        ``signed``: the mantissa carries the sign, as on Loihi.
    scale_scope : {'post_receptor', 'projection'}
        Which synapses share one power-of-two scale: all synapses of one receptor type onto
        one postsynaptic population (SpiNNaker's shift per synapse type), or all synapses
        of one projection (Loihi's exponent per connection).
    neurons_per_core : int or None
        Neurons of one population placed on a core; rows are split per core.
    graded_events : bool
        Whether events can carry a value (graded spikes). If not, ``graded_input``
        populations cannot be exported.
    description : str
    """
    name: str
    max_fan_in: int | None = None
    max_row_length: int | None = None
    min_delay_ticks: int = 0
    max_delay_ticks: int | None = None
    delay_offset: int = 1
    weight_bits: int | None = None
    weight_sign: str = "signed"
    scale_scope: str = "projection"
    neurons_per_core: int | None = None
    graded_events: bool = True
    description: str = ""

    def __post_init__(self):
        where = f"hardware profile '{self.name}'"
        for key in ("max_fan_in", "max_row_length", "max_delay_ticks", "neurons_per_core"):
            value = getattr(self, key)
            if value is not None and not _whole(value, minimum=0):
                raise ConfigError(f"{where}: {key} must be a whole number >= 0 or None, "
                                  f"got {value!r}")
        if not _whole(self.min_delay_ticks, minimum=0):
            raise ConfigError(f"{where}: min_delay_ticks must be a whole number >= 0, "
                              f"got {self.min_delay_ticks!r}")
        if self.max_delay_ticks is not None and self.max_delay_ticks < self.min_delay_ticks:
            raise ConfigError(f"{where}: delay range [{self.min_delay_ticks}, "
                              f"{self.max_delay_ticks}] ticks is empty")
        if self.delay_offset not in (0, 1):
            raise ConfigError(f"{where}: delay_offset must be 0 or 1 (see the delay mapping "
                              f"in delayprop/export/README.md), got {self.delay_offset!r}")
        if self.max_delay_ticks is not None:
            check_ring_size(self.delay_slots, f"{where} (max_delay_ticks "
                            f"{self.max_delay_ticks} - delay_offset {self.delay_offset} + 1)",
                            "delay_slots")
        if self.weight_bits is not None and not (_whole(self.weight_bits, minimum=2)
                                                 and self.weight_bits <= 52):
            raise ConfigError(f"{where}: weight_bits must be a whole number in [2, 52] or "
                              f"None, got {self.weight_bits!r}")
        if self.weight_sign not in WEIGHT_SIGNS:
            raise ConfigError(f"{where}: weight_sign must be one of {WEIGHT_SIGNS}, "
                              f"got {self.weight_sign!r}")
        if self.scale_scope not in SCALE_SCOPES:
            raise ConfigError(f"{where}: scale_scope must be one of {SCALE_SCOPES}, "
                              f"got {self.scale_scope!r}")
        if self.neurons_per_core == 0:
            raise ConfigError(f"{where}: neurons_per_core must be >= 1 or None, got 0")

    @property
    def mantissa_range(self) -> tuple[int, int] | None:
        """Smallest and largest stored integer weight (None for float weights)."""
        if self.weight_bits is None:
            return None
        if self.weight_sign == "receptor":
            return 0, 2 ** self.weight_bits - 1
        return -(2 ** (self.weight_bits - 1)), 2 ** (self.weight_bits - 1) - 1

    def ticks(self, delay_steps):
        """Target delay in ticks for delayprop delays ``d`` (steps): ``d + delay_offset``."""
        return delay_steps + self.delay_offset

    @property
    def delay_slots(self) -> int | None:
        """The largest ring size D a network may have to fit the target, or None if unbounded.

        In the unit of ``max_delay`` / ``max_delay_steps`` / ``--max-delay`` (see
        :mod:`delayprop.delays`): the target holds delays ``d <= D - 1`` steps, i.e.
        ``D = max_delay_ticks - delay_offset + 1``. Delays below
        ``min_delay_ticks - delay_offset`` are not held either.
        """
        if self.max_delay_ticks is None:
            return None
        return self.max_delay_ticks - self.delay_offset + 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _whole(value: Any, minimum: int) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float))
            and math.isfinite(value) and int(value) == value and value >= minimum)


#: Built-in profiles. Limits as in docs/design.md ("Export targets"); fan-in has no fixed
#: per-neuron limit on either chip (synaptic memory per core bounds it), so it is None
#: here: set it in a user profile or with ``delayprop export --max-fan-in``.
PROFILES: dict[str, HardwareProfile] = {
    "spinnaker": HardwareProfile(
        "spinnaker", max_fan_in=None, max_row_length=255, min_delay_ticks=1,
        max_delay_ticks=16, delay_offset=1, weight_bits=16, weight_sign="receptor",
        scale_scope="post_receptor", neurons_per_core=256, graded_events=False,
        description="SpiNNaker via sPyNNaker: delays 1..16 ticks per core, 16-bit weight "
                    "magnitudes with one shift per synapse type of a postsynaptic population, "
                    "sign by receptor type, rows of at most 255 synapses, 256 neurons/core"),
    "spinnaker-delay-ext": HardwareProfile(
        "spinnaker-delay-ext", max_fan_in=None, max_row_length=255, min_delay_ticks=1,
        max_delay_ticks=144, delay_offset=1, weight_bits=16, weight_sign="receptor",
        scale_scope="post_receptor", neurons_per_core=256, graded_events=False,
        description="SpiNNaker with delay-extension stages: delays 1..144 ticks"),
    "loihi2": HardwareProfile(
        "loihi2", max_fan_in=None, max_row_length=None, min_delay_ticks=0,
        max_delay_ticks=62, delay_offset=0, weight_bits=8, weight_sign="signed",
        scale_scope="projection", neurons_per_core=8192, graded_events=True,
        description="Loihi 2: delays 0..62 steps, 8-bit signed weights with a shared "
                    "exponent per connection, graded spikes"),
}


def profile_from_dict(data: Mapping[str, Any], source: str = "profile") -> HardwareProfile:
    """Build a profile from a mapping; ``base = 'spinnaker'`` starts from a built-in one."""
    data = dict(data)
    base = data.pop("base", None)
    fields = {f.name for f in dataclasses.fields(HardwareProfile)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ConfigError(f"{source}: unknown profile key(s) {unknown}; known: "
                          f"{sorted(fields | {'base'})}")
    if base is not None:
        start = get_profile(base)
        data.setdefault("name", f"{base}-custom")
        return dataclasses.replace(start, **data)
    if "name" not in data:
        raise ConfigError(f"{source}: a profile needs a 'name' (or a 'base' built-in)")
    return HardwareProfile(**data)


def load_profile(path: str | Path) -> HardwareProfile:
    """Read a user-defined profile from a ``.toml`` or ``.json`` file.

    Keys are the fields of :class:`HardwareProfile`, plus an optional ``base`` naming a
    built-in profile to start from, e.g. ``base = "spinnaker"`` and ``max_fan_in = 512``.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read hardware profile {path}: {err}") from err
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: not a valid {path.suffix or 'JSON'} profile: {err}") \
            from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a profile must be a table/object, got "
                          f"{type(data).__name__}")
    return profile_from_dict(data, source=str(path))


def get_profile(spec: str | Path | HardwareProfile) -> HardwareProfile:
    """A built-in profile by name, a profile file (``.toml``/``.json``), or ``spec`` itself."""
    if isinstance(spec, HardwareProfile):
        return spec
    if str(spec) in PROFILES:
        return PROFILES[str(spec)]
    if Path(spec).suffix in (".toml", ".json"):
        return load_profile(spec)
    raise ConfigError(f"unknown hardware profile {str(spec)!r}; built-in: {sorted(PROFILES)}, "
                      f"or give a .toml/.json profile file")
