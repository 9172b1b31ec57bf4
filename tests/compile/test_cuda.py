"""The CUDA backend (delayprop/compile/backends/cuda.py).

Two kinds of check:

- compile checks (need nvcc, no GPU): the generated CUDA of the GeNN oracle network
  (SPARSE + DENSE + recurrent, heterogeneous delays) and of an EventProp training network
  (graded input, learned delays, a SPARSE group feeding a spiking population's adjoint)
  compiles, and the library answers the entry points runtime.py relies on with the values
  the layout fixes (array count, state size, digest, one gradient buffer);
- run checks (``@pytest.mark.gpu``, need an NVIDIA GPU): independent truths are GeNN's own
  output (tests/fixtures/genn_forward.npz) for the forward pass, and the CPU backend, whose
  gradients tests/training/test_gradients.py checks against exact finite differences, for
  everything else. Double precision throughout: the only allowed differences come from the
  order of atomic additions, far below the thresholds stated in each test.
"""
from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from delayprop.compile import Model, init_postsynaptic, init_weight_update
from delayprop.compile.build import find_nvcc
from delayprop.compile.layout import array_layout
from delayprop.errors import CodeGenerationError, DelaypropError, TapeOverflowError
from delayprop.genn_models import (LIF, ExpCurr, GradedInput, SpikeSourceArray,
                                   StaticPulseDendriticDelay, StaticPulseGradedDendriticDelay)
from delayprop.training import (Adam, Connection, Dense, EventPropCompiler, Exponential,
                                FixedProbability, LeakyIntegrate, LeakyIntegrateFire, Network,
                                Normal, Population, SoftmaxCrossEntropy, Uniform)
from delayprop.training import GradedInput as GradedInputNeuron

ORACLE = Path(__file__).parents[1] / "fixtures" / "genn_forward.npz"


@lru_cache(maxsize=None)
def _gpu_reason() -> str:
    """'' when an NVIDIA GPU can run our code, else why not."""
    if find_nvcc() is None:
        return "nvcc not found (install the CUDA toolkit or set NVCC)"
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "no NVIDIA driver (nvidia-smi not found)"
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as err:
        return f"nvidia-smi failed: {err}"
    if out.returncode != 0 or "GPU" not in out.stdout:
        return f"no usable GPU (nvidia-smi -L: {(out.stdout + out.stderr).strip()[:200]})"
    return ""


needs_nvcc = pytest.mark.skipif(find_nvcc() is None, reason="nvcc not found (install the "
                                "CUDA toolkit or set NVCC); CUDA compile checks skipped")


def needs_gpu(fn):
    """``@pytest.mark.gpu`` and a skip naming the reason when no GPU is usable."""
    return pytest.mark.gpu(pytest.mark.skipif(bool(_gpu_reason()), reason=_gpu_reason()
                                              or "GPU available")(fn))


# ---------------------------------------------------------------------- networks
@pytest.fixture(scope="module")
def oracle():
    return dict(np.load(ORACLE))


def oracle_model(d, backend: str, build: bool = True, load: bool = True):
    """tests/compile/test_genn_oracle.py's network (GeNN 5.4 produced the fixture)."""
    m = Model("double", "genn_oracle", backend, batch_size=1)
    inp = m.add_neuron_population("input", int(d["n_input"]), SpikeSourceArray)
    pops = {}
    for name in ("hidden", "output"):
        params = {k: float(d[f"{name}_{k}"]) for k in ("tau_mem", "v_thresh", "v_reset")}
        pops[name] = m.add_neuron_population(name, int(d[f"n_{name}"]), LIF, params,
                                             {"V": float(d["v_init"])})
        pops[name].spike_recording_enabled = True
    for name, key, kind, src, tgt in (("input_hidden", "ih", "SPARSE", inp, pops["hidden"]),
                                      ("hidden_output", "ho", "DENSE", pops["hidden"],
                                       pops["output"]),
                                      ("hidden_hidden", "hh", "SPARSE", pops["hidden"],
                                       pops["hidden"])):
        sg = m.add_synapse_population(
            name, kind, src, tgt,
            init_weight_update(StaticPulseDendriticDelay,
                               vars={"g": d[f"{key}_g"], "d": d[f"{key}_d"]}),
            init_postsynaptic(ExpCurr, {"tau": float(d[f"{key}_tau_syn"])}),
            int(d[f"{key}_max_delay"]))
        if kind == "SPARSE":
            sg.set_sparse_connections(d[f"{key}_pre"], d[f"{key}_post"])
    if build:
        m.build()
    if load:
        m.load()
        inp.set_spikes([(d["input_spike_step"] * float(d["dt"]), d["input_spike_id"])])
        m.reinitialise()
    return m, pops


N_IN, N_HID, N_OUT, T_TRAIN, D_IH, D_HO = 8, 24, 4, 60, 12, 5


def training_network(backend: str, seed: int = 3, batch: int = 4, max_spikes=None,
                     trial_inputs: bool = True):
    """Graded input -> LIF (DENSE, learned delays) -> readout (SPARSE, learned delays):
    every kernel kind, and addToPre through a SPARSE row into a spiking source."""
    net = Network()
    with net:
        inp = Population(GradedInputNeuron(), N_IN, name="input")
        hid = Population(LeakyIntegrateFire(10.0, 1.0), N_HID, name="hidden")
        out = Population(LeakyIntegrate(10.0, readout="sum_var"), N_OUT, name="output")
        Connection(inp, hid, Dense(Normal(1.5, 1.0)), Exponential(5.0),
                   delay=Uniform(0, D_IH - 1), max_delay_steps=D_IH, name="ih")
        Connection(hid, out, FixedProbability(Normal(0.0, 1.0), p=0.6), Exponential(5.0),
                   delay=Uniform(0, D_HO - 1), max_delay_steps=D_HO, name="ho")
    comp = EventPropCompiler(T_TRAIN, {out: SoftmaxCrossEntropy()}, Adam(1e-2),
                             batch_size=batch, delay_learning=True, precision="double",
                             backend=backend, seed=seed, max_spikes=max_spikes,
                             trial_inputs=trial_inputs)
    return comp, net, inp, out


def training_data(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 1.5, (n, T_TRAIN, N_IN)) * (rng.random((n, T_TRAIN, N_IN)) < 0.2)
    y = rng.integers(0, N_OUT, n)
    return x, y


# ---------------------------------------------------------------------- compile checks
def _check_exports(library: Path, spec) -> None:
    """The entry points runtime.py calls, with the values the layout fixes (none of
    these touch the GPU, so they run without one)."""
    lib = ctypes.CDLL(str(library))
    for name in ("dp_cuda_malloc", "dp_cuda_free", "dp_cuda_copy", "dp_cuda_last_error",
                 "dp_cuda_status", "dp_reset", "dp_run"):
        assert hasattr(lib, name), f"{library.name} does not export {name}"
    lib.dp_num_arrays.restype = ctypes.c_int64
    lib.dp_state_size.restype = ctypes.c_int64
    lib.dp_digest.restype = ctypes.c_char_p
    n = len(array_layout(spec))
    assert lib.dp_num_arrays() == n
    assert lib.dp_state_size() == n * ctypes.sizeof(ctypes.c_void_p)
    assert lib.dp_digest().decode() == spec.digest()
    assert lib.dp_max_threads() == 1
    if spec.training is not None:
        assert hasattr(lib, "dp_forward") and hasattr(lib, "dp_backward")


@needs_nvcc
def test_oracle_network_compiles_with_nvcc(oracle):
    m, _ = oracle_model(oracle, "cuda", load=False)
    source = m.generate_source()
    # one kernel per phase calling every group's (population's) code on its own blocks;
    # the ring adds of SPARSE groups atomic, those of the DENSE group plain (one thread
    # owns each column)
    for phase, members in (("dp_synapse_phase", ("dp_syn_input_hidden", "dp_syn_hidden_output",
                                                 "dp_syn_hidden_hidden")),
                           ("dp_neuron_phase", ("dp_neu_input", "dp_neu_hidden",
                                                "dp_neu_output"))):
        assert f"__global__ void __launch_bounds__(DP_BLOCK) {phase}(" in source
        for fn in members:
            assert f"static __device__ __forceinline__ void {fn}(" in source
    assert "atomicAdd(&(input_hidden_den[" in source
    assert "hidden_output_den[dp_ring_offset(dp_slotOff, dp_d) + id_post] +=" in source
    _check_exports(m._library, m.spec())


@needs_nvcc
@pytest.mark.parametrize("trial_inputs", [True, False])
def test_training_network_compiles_with_nvcc(monkeypatch, trial_inputs):
    """Through EventPropCompiler(backend='cuda'); load() (which needs a GPU) is cut off.
    With trial_inputs the input group 'ih' runs at trial level (compile/trial.py)."""
    built = {}

    class Built(Exception):
        pass

    def stop(self, *args, **kwargs):
        built["model"] = self
        raise Built

    monkeypatch.setattr(Model, "load", stop)
    comp, net, _, _ = training_network("cuda", trial_inputs=trial_inputs)
    with pytest.raises(Built):
        comp.compile(net, "cuda_compile")
    m = built["model"]
    source = m.generate_source()
    ring = ["dp_bsyn_ih"] if not trial_inputs else []
    for fn in ring + ["dp_bsyn_ho", "dp_jump_hidden", "dp_bneu_hidden", "dp_bneu_output"]:
        assert f"void {fn}(" in source, fn
    trial = ["dp_trial_order_ih", "dp_trial_record_input", "dp_trial_currents_ih",
             "dp_trial_gradients_ih"]
    for kernel in trial:
        assert (f"__global__ void __launch_bounds__(DP_BLOCK) {kernel}(" in source) \
            == trial_inputs, kernel
    assert "dp_bsyn_ih" not in source if trial_inputs else "dp_trial_" not in source
    for kernel in ("dp_backward_synapse_phase", "dp_jump_phase", "dp_backward_neuron_phase",
                   "dp_finish_trial"):
        assert f"__global__ void __launch_bounds__(DP_BLOCK) {kernel}(" in source, kernel
    _check_exports(m._library, m.spec())


@needs_nvcc
def test_load_without_a_gpu_says_why(oracle):
    if not _gpu_reason():
        pytest.skip("a GPU is present: the allocation succeeds")
    m, _ = oracle_model(oracle, "cuda", load=False)
    with pytest.raises(DelaypropError, match=r"CUDA allocation of \d+ bytes for 'dp_rt' "
                                             r"failed: cudaMalloc: "):
        m.load()


# ---------------------------------------------------------------------- GPU runs
@needs_gpu
def test_oracle_spikes_and_voltages_match_genn_on_cuda(oracle):
    m, pops = oracle_model(oracle, "cuda")
    steps = int(oracle["num_steps"])
    v = {name: np.zeros((steps, pops[name].size)) for name in pops}
    for k in range(steps):
        m.step_time()
        for name in pops:
            pops[name].vars["V"].pull_from_device()
            v[name][k] = pops[name].vars["V"].view[0]
    for name in ("hidden", "output"):
        times, ids = pops[name].spike_recording_data[0]
        got = sorted(zip(np.rint(times).astype(int).tolist(), ids.tolist()))
        want = sorted(zip(oracle[f"{name}_spike_step"].tolist(),
                          oracle[f"{name}_spike_id"].tolist()))
        assert len(want) > 30, name
        assert got == want, f"population '{name}': CUDA spikes differ from GeNN's"
        np.testing.assert_allclose(v[name], oracle[f"{name}_V"], rtol=0, atol=1e-12,
                                   err_msg=f"population '{name}': V differs from GeNN")
    assert m.timestep == steps
    m.unload()


@needs_gpu
def test_oracle_one_run_call_on_cuda_equals_cpu(oracle):
    spikes = {}
    for backend in ("cpu", "cuda"):
        m, pops = oracle_model(oracle, backend)
        m.run(int(oracle["num_steps"]))
        spikes[backend] = [sorted(zip(np.rint(t).astype(int).tolist(), i.tolist()))
                           for name in ("hidden", "output")
                           for t, i in pops[name].spike_recording_data]
        m.unload()
    assert sum(map(len, spikes["cpu"])) > 30
    assert spikes["cuda"] == spikes["cpu"]


N_B2_IN, N_B2_HID, N_B2_OUT, T_B2, BATCH_B2 = 20, 30, 10, 300, 4


def brian2_network(backend: str, graded: bool, seed: int = 7):
    """The networks of tests/compile/test_brian2_compare.py (SPARSE input and recurrent
    groups, a DENSE output group, delays over 0..D-1, different inputs per instance)."""
    rng = np.random.default_rng(seed)
    pre, post = np.nonzero(rng.random((N_B2_IN, N_B2_HID)) < 0.3)
    d_ih = rng.integers(0, 16, len(pre))
    d_ih[:2] = [0, 15]
    hh_pre, hh_post = np.nonzero((rng.random((N_B2_HID, N_B2_HID)) < 0.1)
                                 & ~np.eye(N_B2_HID, dtype=bool))
    m = Model("double", f"b2cuda_{graded}", backend, batch_size=BATCH_B2)
    inp = m.add_neuron_population("input", N_B2_IN, GradedInput if graded else SpikeSourceArray,
                                  {"num_steps": T_B2} if graded else None)
    lif = {"tau_mem": 20.0, "v_thresh": 1.0, "v_reset": 0.0}
    hid = m.add_neuron_population("hidden", N_B2_HID, LIF, lif)
    out = m.add_neuron_population("output", N_B2_OUT, LIF, {**lif, "tau_mem": 15.0})
    hid.spike_recording_enabled = out.spike_recording_enabled = True
    wu = StaticPulseGradedDendriticDelay if graded else StaticPulseDendriticDelay
    ih = m.add_synapse_population("ih", "SPARSE", inp, hid, init_weight_update(
        wu, vars={"g": rng.normal(0.4 if graded else 1.0, 0.3, len(pre)), "d": d_ih}),
        init_postsynaptic(ExpCurr, {"tau": 5.0}), 16)
    ih.set_sparse_connections(pre, post)
    hh = m.add_synapse_population("hh", "SPARSE", hid, hid, init_weight_update(
        StaticPulseDendriticDelay, vars={"g": rng.normal(0.0, 0.3, len(hh_pre)),
                                         "d": rng.integers(0, 3, len(hh_pre))}),
        init_postsynaptic(ExpCurr, {"tau": 5.0}), 3)
    hh.set_sparse_connections(hh_pre, hh_post)
    m.add_synapse_population("ho", "DENSE", hid, out, init_weight_update(
        StaticPulseDendriticDelay, vars={"g": rng.normal(0.3, 0.4, (N_B2_HID, N_B2_OUT)),
                                         "d": rng.integers(0, 6, (N_B2_HID, N_B2_OUT))}),
        init_postsynaptic(ExpCurr, {"tau": 3.0}), 6)
    m.build()
    m.load()
    rng = np.random.default_rng(seed + 100)
    if graded:
        x = rng.random((BATCH_B2, T_B2, N_B2_IN)) * (rng.random((BATCH_B2, T_B2, N_B2_IN)) < 0.15)
        inp.extra_global_params["values"].set_init_values(x.ravel())
    else:
        trains = []
        for b in range(BATCH_B2):
            steps, ids = np.nonzero(rng.random((T_B2 - 50, N_B2_IN)) < 0.02 + 0.01 * b)
            trains.append((steps.astype(float), ids))
        inp.set_spikes(trains)
    m.reinitialise()
    m.run(T_B2)
    spikes = {name: [sorted(zip(np.rint(t).astype(int).tolist(), i.tolist()))
                     for t, i in pop.spike_recording_data]
              for name, pop in (("hidden", hid), ("output", out))}
    m.unload()
    return spikes


@needs_gpu
@pytest.mark.parametrize("graded", [False, True], ids=["spikes", "graded"])
def test_brian2_comparison_networks_give_the_cpu_spikes_on_cuda(graded):
    cpu, cuda = brian2_network("cpu", graded), brian2_network("cuda", graded)
    total = 0
    for name in ("hidden", "output"):
        for b in range(BATCH_B2):
            assert cuda[name][b] == cpu[name][b], f"population '{name}', instance {b}"
            total += len(cpu[name][b])
    assert total > 200, "the network is too quiet to test anything"
    assert cpu["hidden"][0] != cpu["hidden"][1], "instances should differ"


def _gradients(backend: str, x, y, tiny_tapes: bool = False):
    comp, net, inp, out = training_network(backend)
    c = comp.compile(net, f"cuda_grad_{backend}")
    if tiny_tapes:    # one-event tapes, as compiled_network._grow_tapes resizes them:
        rt = c.runtime    # the first forward overflows, the tapes grow, it runs again
        for pop in list(rt.sizes.tape_capacity):
            rt.sizes.tape_capacity[pop] = 1
            rt.set_rt(f"tape_capacity.{pop}", 1)
            for a in rt.layout.values():
                if a.owner == pop and a.role == "tape" and a.name not in (
                        f"{pop}_tapeStart", f"{pop}_tapeCount"):
                    rt.resize(a.name)
    grads = c.gradients({inp: x}, {out: y})
    c.close()
    return grads


@needs_gpu
def test_gradients_on_cuda_equal_the_cpu_gradients():
    """Threshold: 1e-6 relative to each gradient's norm, double precision (only the order
    of atomic additions differs)."""
    x, y = training_data(4)
    cpu = _gradients("cpu", x, y)
    cuda = _gradients("cuda", x, y, tiny_tapes=True)
    assert set(cuda) == set(cpu) == {"ih.weight", "ih.delay", "ho.weight", "ho.delay"}
    for key in cpu:
        scale = np.linalg.norm(cpu[key])
        assert scale > 0, f"{key}: all-zero gradient tests nothing"
        err = np.linalg.norm(cuda[key] - cpu[key]) / scale
        assert err <= 1e-6, f"{key}: CUDA vs CPU relative error {err:.2e}"


@needs_gpu
def test_training_epochs_on_cuda_follow_the_cpu_trajectory():
    """Three epochs from the same seed: per-epoch loss within 1e-6 relative, accuracy
    within one sample (a spike could flip on a last-bit difference, not more)."""
    x, y = training_data(24, seed=5)
    history = {}
    for backend in ("cpu", "cuda"):
        comp, net, inp, out = training_network(backend, seed=11)
        with comp.compile(net, f"cuda_epochs_{backend}") as c:
            history[backend] = c.train({inp: x}, {out: y}, 3)
    for cpu, cuda in zip(history["cpu"], history["cuda"]):
        assert abs(cuda["loss"] - cpu["loss"]) <= 1e-6 * abs(cpu["loss"]), (cpu, cuda)
        assert abs(cuda["accuracy"] - cpu["accuracy"]) <= 1 / 24 + 1e-12, (cpu, cuda)
    assert history["cpu"][-1]["loss"] < history["cpu"][0]["loss"], "no learning to compare"


@needs_gpu
def test_tape_overflow_on_cuda_names_the_population():
    comp, net, inp, out = training_network("cuda", max_spikes=2)
    x, y = training_data(4)
    with comp.compile(net, "cuda_overflow") as c:
        with pytest.raises(TapeOverflowError, match=r"population '(input|hidden)' emitted "
                                                    r"\d+ spikes in batch instance \d; the "
                                                    r"tape holds 2"):
            c.gradients({inp: x}, {out: y})


def test_batch_beyond_the_grid_limit_is_refused():
    """Batch instances are gridDim.y, at most 65535 (no nvcc needed: generation fails)."""
    m = Model("double", "cuda_too_wide", "cuda", batch_size=65536)
    m.add_neuron_population("p", 1, LIF, {"tau_mem": 20.0, "v_thresh": 1.0, "v_reset": 0.0})
    with pytest.raises(CodeGenerationError, match=r"model 'cuda_too_wide': batch_size 65536 "
                                                  r"exceeds the CUDA backend's limit of 65535"):
        m.generate_source()


FAULT = """
from delayprop.compile import Model
from delayprop.genn_models import create_neuron_model
fault = create_neuron_model("Fault", vars=[("V", "scalar")],
                            extra_global_params=[("values", "scalar*")],
                            sim_code="V = values[4000000000u];")   # 32 GB past a 1-byte array
m = Model("double", "cuda_fault", "cuda")
m.add_neuron_population("p", 1, fault)
m.build()
m.load()
m.run(1)
"""


@needs_gpu
def test_failed_kernel_is_raised():
    """A kernel that faults: the runtime raises the CUDA error instead of returning
    undefined arrays. In a child process, since the fault spoils the CUDA context."""
    proc = subprocess.run([sys.executable, "-c", FAULT], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert re.search(r"DelaypropError: a CUDA kernel of model 'cuda_fault' failed: dp_run: "
                     r"an illegal memory access", proc.stderr), proc.stderr[-2000:]
