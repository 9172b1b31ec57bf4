"""Map a PyNN export with sPyNNaker on a virtual SpiNNaker board (no hardware needed).

sPyNNaker reads its configuration from ``~/.spynnaker.cfg`` and keeps global state, so
:func:`map_on_virtual_board` runs the export's ``network.py`` in a subprocess whose HOME
and working folder are a temporary folder holding ``[Machine] virtual_board = True``.
sPyNNaker then does everything up to loading: partitioning, placement, routing, delay
extensions and data generation; its errors (a parameter outside s16.15 fixed point, a
type it refuses, a limit it hits) come back as an ExportError with sPyNNaker's message.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from delayprop.errors import ExportError

__all__ = ["map_on_virtual_board"]

_TAG = "DELAYPROP-MAP "
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception)(:|$)")

_RUN = r'''
import json, sys
import numpy as np
from delayprop.export.pynn_run import load_script
import pyNN.spiNNaker as sim
from pacman.data import PacmanDataView
from spynnaker.pyNN.models.utility_models.delays import DelayExtensionVertex

net = load_script(sys.argv[1])
spikes = dict(np.load(sys.argv[2])) if sys.argv[2] else {}
pops, projs = net.build(sim, spikes)
for name, pop in pops.items():
    if net.LAYER[name] > 0:
        pop.record("spikes")
net.run_steps(sim, int(sys.argv[3]))
cores, chips, delay_cores = {}, set(), 0
for pl in PacmanDataView.iterate_placemements():
    app = pl.vertex.app_vertex
    if isinstance(app, DelayExtensionVertex):
        delay_cores += 1
    elif getattr(app, "label", None) in pops:
        cores[app.label] = cores.get(app.label, 0) + 1
    else:
        continue
    chips.add((pl.x, pl.y))
tables = PacmanDataView.get_uncompressed()
print("DELAYPROP-MAP " + json.dumps({
    "cores": cores, "delay_extension_cores": delay_cores, "chips": len(chips),
    "routing_entries": tables.get_total_number_of_entries(),
    "max_routing_entries_per_chip": tables.get_max_number_of_entries(),
    "projections": len(projs)}))
sim.end()
'''


def map_on_virtual_board(export_dir: str | Path, spikes: Mapping[str, Any] | None = None,
                         num_steps: int | None = None, version: int = 5,
                         timeout: float = 600.0) -> dict:
    """Map the PyNN export in ``export_dir`` with sPyNNaker on a virtual board.

    Parameters
    ----------
    export_dir : path
        Folder written by write_pynn.
    spikes : dict, optional
        ``<pop>_steps`` / ``<pop>_ids`` arrays for the spike sources (as ``network.py
        --spikes`` takes them).
    num_steps : int, optional
        Steps to "run" (the script's NUM_STEPS by default); it sizes the recording buffers.
    version : int
        SpiNNaker board version (5: a 48-chip SpiNN-5 board).

    Returns
    -------
    dict: ``cores`` per population, ``delay_extension_cores``, ``chips`` used,
    ``routing_entries`` (uncompressed, all chips), ``max_routing_entries_per_chip``,
    ``projections``.

    Raises
    ------
    ExportError
        sPyNNaker is not installed, or it refused the network (its message included).
    """
    import importlib.util
    if importlib.util.find_spec("spynnaker") is None:
        raise ExportError("mapping on a virtual SpiNNaker board needs sPyNNaker (pip install "
                          "'delayprop[export-sims]')")
    export_dir = Path(export_dir).resolve()
    if not (export_dir / "network.py").is_file():
        raise ExportError(f"{export_dir}: no network.py (write the export with write_pynn)")
    with tempfile.TemporaryDirectory(prefix="delayprop-spinnaker-") as tmp:
        Path(tmp, ".spynnaker.cfg").write_text(
            f"[Machine]\nvirtual_board = True\nversion = {int(version)}\n")
        spike_file = ""
        if spikes:
            spike_file = str(Path(tmp, "spikes.npz"))
            np.savez(spike_file, **{k: np.asarray(v) for k, v in spikes.items()})
        steps = "" if num_steps is None else str(int(num_steps))
        code = _RUN if steps else _RUN.replace("int(sys.argv[3])", "net.NUM_STEPS")
        env = dict(os.environ, HOME=tmp)
        try:
            proc = subprocess.run([sys.executable, "-c", code, str(export_dir), spike_file,
                                   steps], cwd=tmp, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise ExportError(f"sPyNNaker mapping did not finish in {timeout:.0f} s") from err
    for line in proc.stdout.splitlines():
        if line.startswith(_TAG):
            return json.loads(line[len(_TAG):])
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    # the exception line of the traceback, not sPyNNaker's log lines after it
    errors = [ln for ln in lines if _EXCEPTION.match(ln)] or lines or ["no output"]
    raise ExportError(f"sPyNNaker could not map {export_dir} on a virtual board: "
                      f"{errors[-1]}")
