"""delayprop model definitions -> PyGeNN models, through PyGeNN's own creator functions.

Each delayprop model (delayprop/genn_models/spec.py) is handed to the matching
``pygenn.create_*_model`` with the very same names, types, derived-parameter functions
and code strings: nothing is rewritten, so whatever runs here is GeNN's reading of the
model. :func:`delayprop.compile.genn_compat.check_model_for_genn` has already refused what
GeNN cannot take.
"""
from __future__ import annotations

from delayprop.genn_models.spec import (CurrentSourceModel, NeuronModel, PostsynapticModel,
                                        WeightUpdateModel)

__all__ = ["PyGeNNModels"]


class PyGeNNModels:
    """Creates (once per delayprop model) the PyGeNN model of a definition."""

    def __init__(self, pygenn):
        self._pg = pygenn
        self._made: dict[int, object] = {}
        self._keep: list = []          # the delayprop models, so that ids stay unique

    def __call__(self, model):
        key = id(model)
        if key not in self._made:
            self._made[key] = self._create(model)
            self._keep.append(model)
        return self._made[key]

    def _create(self, model):
        pg = self._pg
        common = dict(params=list(model.params) or None, vars=self._vars(model) or None,
                      derived_params=self._derived(model) or None,
                      extra_global_params=[tuple(e) for e in model.extra_global_params] or None)
        if isinstance(model, NeuronModel):
            return pg.create_neuron_model(
                model.name, sim_code=_code(model.sim_code),
                threshold_condition_code=_code(model.threshold_condition_code),
                reset_code=_code(model.reset_code), **common)
        if isinstance(model, PostsynapticModel):
            return pg.create_postsynaptic_model(
                model.name, sim_code=_code(model.sim_code),
                neuron_var_refs=[tuple(r) for r in model.neuron_var_refs] or None, **common)
        if isinstance(model, WeightUpdateModel):
            return pg.create_weight_update_model(
                model.name, pre_spike_syn_code=_code(model.pre_spike_syn_code),
                pre_neuron_var_refs=[tuple(r) for r in model.pre_neuron_var_refs] or None,
                post_neuron_var_refs=[tuple(r) for r in model.post_neuron_var_refs] or None,
                **common)
        if isinstance(model, CurrentSourceModel):
            return pg.create_current_source_model(
                model.name, injection_code=_code(model.injection_code), **common)
        raise TypeError(f"no PyGeNN model kind for {type(model).__name__}")

    def _vars(self, model):
        return [(v.name, v.type, getattr(self._pg.VarAccess, v.access.value))
                for v in model.vars]

    @staticmethod
    def _derived(model):
        # the same callables; float() because GeNN stores a C++ number
        return [(name, (lambda p, dt, fn=fn: float(fn(p, dt))))
                for name, fn in model.derived_params]


def _code(text: str) -> str | None:
    return text if text and text.strip() else None
