"""``delayprop demo | bench | build``."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from delayprop.errors import ConfigError

BENCHMARKS = {"forward": "bench_forward.py", "train": "bench_train.py",
              "sparsity": "bench_sparsity.py", "data": "bench_data.py",
              "rawhd": "bench_rawhd.py", "mpi": "bench_mpi.py"}


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="simulate a small delayed network, save a raster",
                              description="Build, compile and run a 30 -> 50 -> 10 network "
                                          "with dendritic delays; print a spike summary and "
                                          "save results/demo_raster.png.")
    p.add_argument("--out", default="results", help="folder for demo_raster.png")
    p.add_argument("--batch", type=int, default=4)
    p.set_defaults(handler=_demo)

    p = subparsers.add_parser("bench", help="run benchmarks (benchmarks/ of the repository)",
                              description="Run benchmarks from the repository's benchmarks/ "
                                          "folder; each prints JSON lines.")
    p.add_argument("names", nargs="*", default=["forward", "train"],
                   help=f"which: {', '.join(BENCHMARKS)} (default: forward train)")
    p.add_argument("--dir", help="benchmarks folder (default: ./benchmarks, then the one "
                                 "next to the installed package)")
    p.add_argument("--args", default="", help="extra arguments passed to each benchmark")
    p.set_defaults(handler=_bench)

    p = subparsers.add_parser("build", help="generate (and compile) the code of a run's "
                                            "network; --dump writes the source")
    p.add_argument("run", help="run directory with config.json (from delayprop train)")
    p.add_argument("--dump", help="directory to write the generated source into")
    p.set_defaults(handler=_build)


def _demo(args) -> int:
    from delayprop.tools.demo import run_demo
    summary = run_demo(args.out, batch=args.batch)
    print(json.dumps(summary, indent=1))
    return 0


def _bench_dir(explicit) -> Path:
    candidates = [Path(explicit)] if explicit else [
        Path.cwd() / "benchmarks", Path(__file__).resolve().parents[2] / "benchmarks"]
    for c in candidates:
        if (c / "_common.py").exists():
            return c
    raise ConfigError(f"no benchmarks folder found (looked in {[str(c) for c in candidates]}); "
                      f"run from the repository root or pass --dir")


def _bench(args) -> int:
    folder = _bench_dir(args.dir)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        raise ConfigError(f"unknown benchmarks {unknown}; choose from {list(BENCHMARKS)}")
    failed = []
    for name in args.names:
        # one process per benchmark, so each peak-RSS figure is its own
        proc = subprocess.run([sys.executable, str(folder / BENCHMARKS[name]),
                               *args.args.split()], cwd=folder.parent)
        if proc.returncode:
            failed.append(name)
    if failed:
        raise ConfigError(f"benchmark(s) {failed} failed (see their output above)")
    return 0


def _build(args) -> int:
    from delayprop.data import GRADED_DATASETS, load_dataset
    from delayprop.training.experiment import ExperimentConfig, build_network, make_compiler
    cfg = ExperimentConfig.from_run(args.run)
    # the data set gives the shapes (channels, classes, steps) of any run's network
    data = load_dataset(cfg.data, "test", path=cfg.data_path, **cfg.data_options)
    graded = cfg.data in GRADED_DATASETS and not cfg.encode
    net, inp, hid, out, ih = build_network(cfg, data.num_channels, data.num_classes, graded)
    steps = data.num_steps if cfg.data in GRADED_DATASETS else 1000
    compiled = make_compiler(cfg, out, ih, steps, 1).compile(net, name=f"run_{cfg.data}")
    if args.dump:
        path = compiled.model.dump_source(Path(args.dump))
        print(f"generated source written to {path}")
    compiled.close()
    return 0
