"""``delayprop export RUN --target spinnaker|pynn|loihi2|nir --out DIR``."""
from __future__ import annotations

import argparse
from pathlib import Path

from delayprop.errors import DataError
from delayprop.graph import load_graph

# target names (delayprop.export.targets.TARGETS; imported lazily with the writers)
TARGETS = ("loihi2", "nir", "pynn", "spinnaker")
# targets with a writer of their own, outside targets.TARGETS (no hardware profile)
OWN_TARGETS = ("mlgenn",)

__all__ = ["register"]

FINAL_GRAPH = "graph_final.npz"

_DESCRIPTION = f"""\
Export a trained network to a neuromorphic target or an interchange format.

RUN is a run directory holding {FINAL_GRAPH} (delayprop.graph.save_graph). The network is
checked against the target's hardware profile, made to fit (pruning only with
--fan-in/--rows prune; delays are never clipped: out-of-range delays are an error),
weights are quantised to the target's precision, the files are written to DIR, loaded
back and compared synapse by synapse, and a short report is printed (report.json in DIR).

Targets: spinnaker (PyNN lists + network.py for pyNN.spiNNaker, profile 'spinnaker';
--profile spinnaker-delay-ext for delays up to 144 ticks), pynn (float weights,
pyNN.nest), loihi2 (NIR + 8-bit mantissas/exponents), nir (float weights), mlgenn
(network.py building an mlGeNN Network from network.npz; with data, mlGeNN's
InferenceCompiler evaluates it beside delayprop; needs mlGeNN, spike inputs only).

--data NPZ re-simulates the original and the exported network in Brian2 and reports
spike agreement and accuracy; --validate-in nest runs the PyNN script itself in NEST,
--validate-in spinnaker-virtual maps it with sPyNNaker on a virtual board.
Keys of NPZ: for a graded_input population P an array P [batch, steps, size]; for a
spike_source population P flat int arrays P_steps, P_ids, P_trial (step, neuron, batch
instance of each spike); 'labels' [batch] (optional); 'num_steps' (needed when no graded
array gives it). See delayprop/export/README.md."""


def _handle(args: argparse.Namespace) -> int:
    run = Path(args.run)
    graph_path = run / FINAL_GRAPH if run.is_dir() else run
    if not graph_path.is_file():
        raise DataError(f"{run}: no {FINAL_GRAPH} there; RUN must be a run directory written "
                        f"by training (or a graph .npz file)")
    graph = load_graph(graph_path)
    from delayprop.export.targets import export, load_export_data
    inputs = labels = num_steps = None
    if args.data and args.validate_split:
        raise DataError("give either --data or --validate-split, not both")
    if args.data:
        inputs, labels, num_steps = load_export_data(args.data, graph)
    elif args.validate_split:
        inputs, labels, num_steps = run_data(run, args.validate_split, args.limit)
    if args.target == "mlgenn":            # its own writer: an mlGeNN script, no profile
        from delayprop.export.mlgenn import export_mlgenn, format_report
        print(format_report(export_mlgenn(graph, args.out, inputs, labels, num_steps,
                                          args.readout)))
        return 0
    result = export(graph, args.target, args.out, profile=args.profile,
                    max_fan_in=args.max_fan_in, fan_in=args.fan_in, rows=args.rows,
                    inputs=inputs, num_steps=num_steps, labels=labels,
                    readout=args.readout)
    print(result.summary())
    for simulator in args.validate_in or ():
        _validate_in(simulator, graph, args, inputs, labels, num_steps)
    return 0


def _validate_in(simulator: str, graph, args, inputs, labels, num_steps):
    """Run the written PyNN export in NEST, or map it with sPyNNaker on a virtual board;
    print the result and add it to report.json."""
    import json

    from delayprop.errors import ConfigError
    from delayprop.export.targets import TARGETS as WRITERS
    if WRITERS[args.target][1] != "pynn":
        raise ConfigError(f"--validate-in {simulator} runs the PyNN script: use --target "
                          f"pynn or spinnaker, not {args.target}")
    out = Path(args.out)
    if simulator == "nest":
        if inputs is None:
            raise ConfigError("--validate-in nest needs data: --validate-split SPLIT or --data")
        from delayprop.export.pynn_run import validate_in_pynn
        report = validate_in_pynn(graph, out, inputs, num_steps, labels, args.readout, "nest")
        print(report.summary())
        entry = {"trials": report.batch_size,
                 "spikes": {k: {"original": p.spikes_original, "exported": p.spikes_exported,
                                "identical": p.matched, "within_one_step": p.within_one}
                            for k, p in report.populations.items()},
                 "same_class": report.prediction_agreement,
                 "accuracy_original": report.accuracy_original,
                 "accuracy_exported": report.accuracy_exported}
    else:
        from delayprop.export.spinnaker_map import map_on_virtual_board
        spikes = {}
        if inputs is not None:
            from delayprop.reference.brian2_sim import check_inputs
            _, data = check_inputs(graph, inputs, num_steps)
            for name, trains in data.items():
                spikes[name + "_steps"], spikes[name + "_ids"] = trains[0]
        entry = map_on_virtual_board(out, spikes, num_steps)
        print("sPyNNaker virtual board: mapped; cores " + ", ".join(
            f"{k} {v}" for k, v in entry["cores"].items())
            + f"; delay extension cores {entry['delay_extension_cores']}; chips "
              f"{entry['chips']}; routing entries {entry['routing_entries']}")
    path = out / "report.json"
    data = json.loads(path.read_text())
    data.setdefault("validate_in", {})[simulator] = entry
    path.write_text(json.dumps(data, indent=1))


def run_data(run: Path, split: str, limit: int | None):
    """Inputs, labels and trial length of a training run's own data set (its config.json),
    encoded as the run was trained."""
    import json

    import numpy as np

    from delayprop.data import GRADED_DATASETS, load_dataset, sigma_delta_spikes
    config = run / "config.json"
    if not config.is_file():
        raise DataError(f"{run}: no config.json, so its data set is unknown; use --data NPZ")
    cfg = json.loads(config.read_text())["config"]
    # the run's own data options (an audio folder's label pattern and split rule, ...)
    data = load_dataset(cfg["data"], split, path=cfg.get("data_path"),
                        **cfg.get("data_options", {}))
    graded = cfg["data"] in GRADED_DATASETS
    x, y = data.x, data.y
    if limit:
        x, y = x[:limit], y[:limit]
    if cfg.get("encode") == "sigma_delta":
        inputs = {"input": [(np.rint(t).astype(np.int64), i) for t, i in sigma_delta_spikes(x)]}
    elif graded:
        inputs = {"input": np.asarray(x, dtype=np.float64)}
    else:
        inputs = {"input": [(np.rint(s["t"]).astype(np.int64), s["x"].astype(np.int64))
                            for s in x]}
    steps = data.num_steps if graded else 1000
    return inputs, np.asarray(y, dtype=np.int64), steps


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a trained network (SpiNNaker/PyNN, Loihi 2, NIR)",
        description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", metavar="RUN", help=f"run directory with {FINAL_GRAPH}")
    parser.add_argument("--target", required=True, choices=sorted(TARGETS + OWN_TARGETS))
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--profile", help="hardware profile: built-in name "
                        "(spinnaker, spinnaker-delay-ext, loihi2) or a .toml/.json file")
    parser.add_argument("--max-fan-in", type=int, metavar="K",
                        help="fan-in limit per postsynaptic neuron (overrides the profile)")
    parser.add_argument("--fan-in", choices=("refuse", "prune"), default="refuse",
                        help="over the fan-in limit: refuse (default) or prune smallest |w|")
    parser.add_argument("--rows", choices=("refuse", "prune"), default="refuse",
                        help="over the row-length limit: refuse (default) or prune")
    parser.add_argument("--data", metavar="NPZ", help="inputs (and labels) for validation")
    parser.add_argument("--validate-split", metavar="SPLIT",
                        help="validate on this split (e.g. test) of the run's own data set, "
                             "encoded as in training (needs RUN/config.json)")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="validate on the first N samples only")
    parser.add_argument("--validate-in", action="append", metavar="SIM",
                        choices=("nest", "spinnaker-virtual"),
                        help="also run the PyNN script in NEST on the data (spike and class "
                             "agreement with delayprop), or map it with sPyNNaker on a "
                             "virtual board (cores, chips, routes); repeatable")
    parser.add_argument("--readout", default="output",
                        help="readout population for accuracy (default %(default)s)")
    parser.set_defaults(handler=_handle)
