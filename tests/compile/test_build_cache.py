"""Build cache: keyed by source and toolchain, safe under concurrent builds."""
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import pytest

from delayprop.compile import Model, init_postsynaptic, init_weight_update
from delayprop.compile.cache import cache_key, cached_build
from delayprop.genn_models import LIF, ExpCurr, SpikeSourceArray, StaticPulseDendriticDelay

SNAPSHOTS = Path(__file__).parent / "snapshots"


def small_model(name="cache_model", tau=20.0, precision="float", backend="cpu"):
    m = Model(precision, name, backend, batch_size=2)
    src = m.add_neuron_population("src", 3, SpikeSourceArray)
    tgt = m.add_neuron_population("tgt", 4, LIF, {"tau_mem": tau, "v_thresh": 1.0,
                                                  "v_reset": 0.0})
    sg = m.add_synapse_population("syn", "SPARSE", src, tgt, init_weight_update(
        StaticPulseDendriticDelay, vars={"g": 1.5, "d": [0, 2, 3]}),
        init_postsynaptic(ExpCurr, {"tau": 5.0}), 4)
    sg.set_sparse_connections([0, 1, 2], [1, 2, 3])
    return m


def test_same_model_hits_the_cache_and_changes_miss_it():
    first = small_model().build()
    log = first.parent / "build.log"
    stamp = log.stat().st_mtime_ns
    again = small_model().build()
    assert again == first and log.stat().st_mtime_ns == stamp     # not recompiled
    other = small_model(tau=10.0).build()                         # a constant changed
    assert other != first
    assert (first.parent / "meta.json").exists()


def test_generated_source_is_deterministic_and_readable():
    a, b = small_model().generate_source(), small_model().generate_source()
    assert a == b
    assert "// Network 'cache_model'" in a and "tgt: 4 x LIF" in a
    assert '#line 1 "tgt/LIF.sim_code"' in a


def test_snapshot_of_lif_with_delayed_pulse():
    """Generator changes show up as a diff (set DELAYPROP_UPDATE_SNAPSHOTS=1 to accept)."""
    source = small_model("snapshot").generate_source()
    path = SNAPSHOTS / "lif_delayed_pulse.cpp"
    if os.environ.get("DELAYPROP_UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(source)
    assert source == path.read_text(), "generated code changed; review and update snapshot"


def test_a_half_written_build_directory_is_rebuilt(tmp_path):
    calls = []

    def build(tmp):
        calls.append(1)
        (tmp / "out.txt").write_text("ok")
        return {}
    key = cache_key("x")
    (tmp_path / key).mkdir()                       # left by a killed run: no meta.json
    path = cached_build(key, build, root=tmp_path)
    assert calls == [1] and (path / "out.txt").read_text() == "ok"
    assert cached_build(key, build, root=tmp_path) == path and calls == [1]


def _build_in_process(cache, queue):
    os.environ["DELAYPROP_CACHE"] = cache
    m = small_model("concurrent")
    path = m.build()
    m.load()
    m.run(5)
    queue.put(str(path))


def test_two_processes_building_the_same_model_at_once(tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_build_in_process, args=(str(tmp_path), queue))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    paths = {queue.get(timeout=5), queue.get(timeout=5)}
    assert len(paths) == 1
    builds = [d for d in (tmp_path / "build").iterdir() if d.is_dir() and
              not d.name.endswith(".tmp")]
    assert len(builds) == 1, builds


def test_dump_source(tmp_path):
    path = small_model().dump_source(tmp_path / "dump")
    assert path.name == "delayprop_model.cpp" and "struct DPState" in path.read_text()
