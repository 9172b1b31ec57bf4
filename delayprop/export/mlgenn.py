"""Export a network (:class:`~delayprop.graph.NetworkGraph`) to mlGeNN.

Written into ``out_dir``:

- ``network.npz``: every projection's ``<name>_pre``, ``_post``, ``_weight``, ``_delay``
  (the connectivity after rewiring, in synapse lists) — the arrays the script loads;
- ``network.py``: a script that builds the mlGeNN ``Network`` from them
  (``build_network(npz) -> (network, populations)``), readable and editable by hand.

The mapping is exact (same step order, docs/design.md "Step order"): ``lif`` ->
``LeakyIntegrateFire(relative_reset=False, scale_i=True)`` (``V <- alpha V + (1 - alpha)
Isyn``, reset to ``v_reset``), ``li`` -> ``LeakyIntegrate(scale_i=True,
readout="sum_var")`` (the voltage-sum readout), ``tau_syn`` -> ``Exponential(scale_i=True)``
(GeNN's ExpCurr scaling), per-synapse delays -> mlGeNN's dendritic delays with
``max_delay_steps = D - 1`` (its ring holds ``1 + max_delay_steps`` slots), every
projection as explicit sparse connectivity (``pre_ind``/``post_ind``).
``spike_source`` -> ``SpikeInput``. mlGeNN 2.3's inference resets neuron variables
between trials but not the delay rings, the synaptic currents or the spikes of the last
step (delivered in the next trial's first step); the script's ``ClearDendriticDelays``
callback empties them, so that trials are independent as in delayprop. ``graded_input`` has no counterpart: mlGeNN's
connections add a fixed weight per spike, so a graded event's ``weight * value`` cannot be
expressed (train on spikes, e.g. ``--encode sigma_delta``, to export to mlGeNN).

:func:`predict_mlgenn` runs the written network with mlGeNN's ``InferenceCompiler`` and
returns the class of every trial (argmax of the readout).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import runpy
from pathlib import Path

import numpy as np
from filelock import FileLock

from delayprop.compile.cache import cache_key, cache_root
from delayprop.errors import ConfigError, DataError, ExportError
from delayprop.graph import NetworkGraph

__all__ = ["write_mlgenn", "load_mlgenn", "predict_mlgenn", "export_mlgenn", "format_report",
           "SCRIPT", "ARRAYS"]

SCRIPT, ARRAYS = "network.py", "network.npz"

_HEADER = '''"""mlGeNN network exported by delayprop (delayprop/export/mlgenn.py).

build_network(npz) returns (network, populations); populations maps each population's
name to its mlGeNN Population. Weights, delays and connectivity come from {arrays}.
Evaluate with callbacks=[ClearDendriticDelays()] so that every trial starts afresh.
"""
import numpy as np

from ml_genn import Connection, Network, Population
from ml_genn.callbacks import Callback
from ml_genn.connectivity import FixedProbability
from ml_genn.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from ml_genn.synapses import Exponential

POPULATIONS = {populations}
PROJECTIONS = {projections}


class ClearDendriticDelays(Callback):
    """Empty every connection's dendritic-delay ring and synaptic current, and every
    population's spikes of the last step, before each batch, so that trials are
    independent as in delayprop (mlGeNN 2.3's inference resets neuron variables only):
    pass it in the callbacks of evaluate/predict."""

    def set_params(self, compiled_network, **kwargs):
        self._compiled = compiled_network

    def on_batch_begin(self, batch):
        model = self._compiled.genn_model
        for group in model.synapse_populations.values():
            try:
                ring = model._runtime.get_array(group, "denDelay")
            except IndexError:                  # a group without dendritic delays
                ring = None
            if ring is not None:
                np.asarray(ring.host_view)[:] = 0
                ring.push_to_device()
            group.out_post.view[:] = 0          # the synaptic current (GeNN's inSyn)
            group.out_post.push_to_device()
            # the source's spikes of the previous trial's last step, which this trial's
            # first step would deliver (GeNN 5.4 keeps them with one of the outgoing
            # groups, as "srcSpkCnt")
            try:
                count = model._runtime.get_array(group, "srcSpkCnt")
            except IndexError:
                continue
            np.asarray(count.host_view)[:] = 0
            count.push_to_device()


def _neuron(p, max_spikes):
    if p["kind"] == "spike_source":
        return SpikeInput(max_spikes=max_spikes)
    if p["kind"] == "lif":
        return LeakyIntegrateFire(v_thresh=p["v_thresh"], v_reset=p["v_reset"], v=p["v_init"],
                                  tau_mem=p["tau_mem"], relative_reset=False, scale_i=True)
    return LeakyIntegrate(v=p["v_init"], tau_mem=p["tau_mem"], scale_i=True,
                          readout="sum_var")


def build_network(npz="{arrays}", max_spikes=1000000):
    arrays = np.load(npz)
    network = Network()
    with network:
        pops = {{p["name"]: Population(_neuron(p, max_spikes), p["size"],
                                      record_spikes=p["kind"] == "lif")
                for p in POPULATIONS}}
        for c in PROJECTIONS:
            name = c["name"]
            conn = FixedProbability(1.0, weight=arrays[name + "_weight"],
                                    delay=arrays[name + "_delay"])
            conn.pre_ind = arrays[name + "_pre"]
            conn.post_ind = arrays[name + "_post"]
            Connection(pops[c["source"]], pops[c["target"]], conn,
                       Exponential(c["tau_syn"], scale_i=True),
                       max_delay_steps=c["max_delay"] - 1)
    return network, pops
'''


def write_mlgenn(graph: NetworkGraph, out_dir) -> list[Path]:
    """Write ``network.npz`` and ``network.py`` for ``graph`` into ``out_dir``."""
    for p in graph.populations:
        if p.kind == "graded_input":
            raise ExportError(
                f"population '{p.name}' is a graded input: mlGeNN 2.3 has no graded-value "
                f"input (its connections add a fixed weight per spike, not weight * value); "
                f"export a network trained on spikes (e.g. --encode sigma_delta)")
    if graph.dt != 1.0:
        raise ExportError(f"the network's step is {graph.dt} ms; the export writes mlGeNN's "
                          f"default dt of 1 ms only")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for c in graph.projections:
        arrays.update({f"{c.name}_pre": c.pre.astype(np.int64),
                       f"{c.name}_post": c.post.astype(np.int64),
                       f"{c.name}_weight": c.weight.astype(np.float64),
                       f"{c.name}_delay": c.delay.astype(np.int64)})
    np.savez(out / ARRAYS, **arrays)
    pops = [{"name": p.name, "size": int(p.size), "kind": p.kind, "tau_mem": p.tau_mem,
             "v_thresh": p.v_thresh, "v_reset": float(p.v_reset), "v_init": float(p.v_init)}
            for p in graph.populations]
    projs = [{"name": c.name, "source": c.source, "target": c.target,
              "tau_syn": float(c.tau_syn), "max_delay": int(c.max_delay)}
             for c in graph.projections]
    script = _HEADER.format(arrays=ARRAYS, populations=_literal(pops),
                            projections=_literal(projs))
    (out / SCRIPT).write_text(script)
    return [out / ARRAYS, out / SCRIPT]


def _literal(value) -> str:
    """A Python literal of JSON-able ``value`` (null -> None)."""
    return json.dumps(value, indent=4).replace("null", "None")


def load_mlgenn(out_dir):
    """Run the written script: ``(network, populations, callbacks)`` (needs mlGeNN);
    ``callbacks`` are those every evaluation of it needs."""
    out = Path(out_dir)
    _require_mlgenn()
    namespace = runpy.run_path(str(out / SCRIPT))
    network, pops = namespace["build_network"](str(out / ARRAYS))
    return network, pops, [namespace["ClearDendriticDelays"]()]


def predict_mlgenn(out_dir, inputs: dict, num_steps: int, readout: str = "output",
                   **compiler_options) -> np.ndarray:
    """The readout of every trial, ``[trials, readout size]`` (the voltage sum; its argmax
    is the class), from mlGeNN's ``InferenceCompiler`` (batch 1) running the export.

    ``inputs`` as for :func:`delayprop.compile.graph_model.simulate_graph`: a list per
    ``spike_source`` population of ``(steps, ids)`` per trial."""
    _require_mlgenn()
    from ml_genn.compilers import InferenceCompiler
    from ml_genn.utils.data import preprocess_spikes
    network, pops, callbacks = load_mlgenn(out_dir)
    if readout not in pops:
        raise ConfigError(f"readout '{readout}' is not a population of the export; "
                          f"known: {sorted(pops)}")
    x, trials = {}, None
    for name, value in inputs.items():
        if name not in pops:
            raise DataError(f"input '{name}' is not a population of the export")
        size = pops[name].shape[0]
        x[pops[name]] = [preprocess_spikes(np.asarray(steps, np.float64),
                                           np.asarray(ids, np.int64), size)
                         for steps, ids in value]
        trials = len(value) if trials is None else trials
    options = {"optimize_code": True, **compiler_options}
    compiler = InferenceCompiler(evaluate_timesteps=int(num_steps), batch_size=1,
                                 **options)
    # mlGeNN builds into the working directory: use the cache instead (never the repo)
    written = hashlib.sha256((Path(out_dir) / ARRAYS).read_bytes()
                             + (Path(out_dir) / SCRIPT).read_bytes()).hexdigest()
    build = cache_root().parent / "mlgenn"
    build.mkdir(parents=True, exist_ok=True)
    name = "delayprop_" + cache_key(written, str(num_steps), repr(sorted(options.items())))
    with FileLock(str(build / f"{name}.lock")), _working_directory(build):
        compiled = compiler.compile(network, name=name)
        with compiled:
            predictions, _ = compiled.predict(x, pops[readout], callbacks=callbacks)
    return np.asarray(predictions[pops[readout]]).reshape(trials, -1)


@contextlib.contextmanager
def _working_directory(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _require_mlgenn():
    try:
        import ml_genn  # noqa: F401
    except ImportError as err:
        raise ConfigError(f"the mlGeNN export runs with mlGeNN ({err}); it is not on the "
                          f"package index: install it from source (README, 'With GeNN')") \
            from None


def export_mlgenn(graph: NetworkGraph, out_dir, inputs: dict | None = None,
                  labels=None, num_steps: int | None = None,
                  readout: str = "output") -> dict:
    """Write the export and, given inputs, evaluate it in mlGeNN beside delayprop's own
    engine (float, as mlGeNN): the fraction of trials with the same class, both
    accuracies when labels are given, the largest readout difference. The report is also
    written to ``report.json``; :func:`format_report` prints it."""
    files = write_mlgenn(graph, out_dir)
    report = {"target": "mlgenn", "files": [str(f) for f in files],
              "synapses": int(sum(c.num_synapses for c in graph.projections))}
    if inputs is not None:
        from delayprop.compile.graph_model import simulate_graph
        ours = simulate_graph(graph, inputs, int(num_steps), record_v=(readout,),
                              precision="float").v[readout].sum(axis=1)
        theirs = predict_mlgenn(out_dir, inputs, int(num_steps), readout)
        same = ours.argmax(axis=1) == theirs.argmax(axis=1)
        report.update(trials=int(len(same)), same_class=float(same.mean()),
                      max_abs_readout_diff=float(np.abs(ours - theirs).max()))
        if labels is not None:
            labels = np.asarray(labels)
            report.update(accuracy_delayprop=float((ours.argmax(1) == labels).mean()),
                          accuracy_mlgenn=float((theirs.argmax(1) == labels).mean()))
    (Path(out_dir) / "report.json").write_text(json.dumps(report, indent=1))
    return report


def format_report(report: dict) -> str:
    lines = [f"mlGeNN export: {report['synapses']} synapses -> "
             f"{', '.join(Path(f).name for f in report['files'])}"]
    if "trials" in report:
        lines.append(f"  {report['trials']} trials in mlGeNN's InferenceCompiler: same class "
                     f"as delayprop in {100 * report['same_class']:.2f} %, max |readout "
                     f"difference| {report['max_abs_readout_diff']:.3g}")
    if "accuracy_mlgenn" in report:
        lines.append(f"  accuracy: delayprop {100 * report['accuracy_delayprop']:.2f} %, "
                     f"mlGeNN {100 * report['accuracy_mlgenn']:.2f} %")
    return "\n".join(lines)
