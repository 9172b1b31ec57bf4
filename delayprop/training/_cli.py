"""``delayprop train``: one training run from the command line."""
from __future__ import annotations

import argparse
import json
import logging
import shlex
from pathlib import Path

from delayprop.errors import ConfigError

logger = logging.getLogger(__name__)

# command-line option -> ExperimentConfig field (None: same name with '-' -> '_')
_OPTIONS = [
    ("--data", str, "data set: rawhd, shd, ssc or audio (your own folder of recordings, "
                    "see --labels)"),
    ("--data-path", str, "where the data set is (default: $DELAYPROP_DATA, then the "
                         "per-user data folder)"),
    ("--limit", int, "train on the first N training samples only"),
    ("--epochs", int, "number of epochs (total, also when resuming)"),
    ("--batch-size", int, "batch size"),
    ("--hidden", int, "hidden LIF neurons"),
    ("--max-delay", int, "ring size D: delays lie in 0..D-1 steps"),
    ("--delays", str, "connections with (learned) delays, comma-separated: input_hidden "
                      "(default), hidden_output or input_hidden,hidden_output; each in "
                      "0..D-1 steps (--max-delay)"),
    ("--dropout", float, "probability that a hidden spike is dropped in training (kept "
                          "ones count 1/(1-p)); 0: off"),
    ("--dropout-mode", str, "event (each spike, the default) or neuron (each hidden "
                            "neuron for a whole sample)"),
    ("--spike-time", str, "where the backward pass places a hidden spike of step k: end "
                          "((k+1) dt, the default) or mid ((k+1/2) dt: delay gradients "
                          "closer to continuous time at dt = 1 ms, lower RawHD accuracy)"),
    ("--lr", float, "peak learning rate of the weights (OneCycle)"),
    ("--delay-lr", float, "learning rate of the delays (cosine annealing)"),
    ("--weight-sd", float, "sd of the initial input->hidden weights (for 40 inputs)"),
    ("--out-weight-sd", float, "sd of the initial hidden->output weights"),
    ("--reg-lambda", float, "strength of the hidden spike-count regulariser (0: off)"),
    ("--reg-nu-upper", float, "spikes per neuron and trial above which it acts"),
    ("--readout", str, "sum_var, avg_var, max_var or avg_var_exp_weight"),
    ("--tau-mem", float, "membrane time constant of the hidden LIF neurons (ms; one step "
                         "is 1 ms)"),
    ("--tau-syn", float, "synaptic time constant (ms)"),
    ("--readout-tau-mem", float, "membrane time constant of the readout (ms)"),
    ("--seed", int, "seed of connectivity, initial values and shuffling"),
    ("--precision", str, "float or double"),
    ("--backend", str, "cpu or cuda"),
    ("--sparsity", float, "fraction of input->hidden synapses absent (e.g. 0.875)"),
    ("--augment-shift", int, "move each training sample by up to +-N mel channels, drawn "
                             "per batch (graded input only; default 0)"),
    ("--augment-time-shift", int, "move each training sample by up to +-N steps"),
    ("--encode", str, "sigma_delta: turn graded RawHD values into spikes (for hardware "
                      "that carries only binary events)"),
    ("--on-nan", str, "when a batch makes the loss, a gradient, weight, delay or optimiser "
                      "state NaN/inf: stop (default; exit 1, the last checkpoint kept) or "
                      "skip-batch (drop the batch, count it in metrics.csv)"),
]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a network with EventProp (delays and weights)",
        description="Train 'input -> hidden LIF -> leaky-integrator readout' with EventProp; "
                    "writes metrics.csv, learning_curve.png, checkpoint.npz, "
                    "graph_initial/final.npz and summary.json into --out. A setting "
                    "you give neither here nor in --config takes the data set's best "
                    "recipe (rawhd: 40 epochs, --weight-sd 0.2, --delay-lr 0.05, "
                    "--augment-shift 2), else delayprop's default.")
    _add_config_options(p)
    p.add_argument("--no-delay-learning", action="store_true", help="keep delays fixed")
    p.add_argument("--rewire", choices=["deepr", "rigl"],
                   help="rewire the input->hidden connection between epochs (needs "
                        "--sparsity)")
    p.add_argument("--regrow-delay", choices=["keep", "random", "gradient"],
                   help="delay of a regrown synapse (default keep)")
    p.add_argument("--fan-in", type=int, help="at most K active inputs per hidden neuron")
    p.add_argument("--rewire-every", type=int, help="rewire every N batches (default: each "
                                                    "epoch)")
    p.add_argument("--l1", type=float, help="L1 strength on the rewired parameters")
    _add_drop_options(p, "")
    _add_sign_option(p, "")
    p.add_argument("--dale", action=argparse.BooleanOptionalAction, default=None,
                   help="one sign per presynaptic neuron in rewired groups (default on)")
    p.add_argument("--hardware", help="train within the fan-in/row limits of an export "
                                      "profile (e.g. spinnaker)")
    p.add_argument("--out", required=True, help="run directory (e.g. results/RUN)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint (or the one "
                        "before, if the last is damaged)")
    p.add_argument("--allow-changes", action="store_true",
                   help="with --resume: continue with new learning rates, schedule, "
                        "regulariser, augmentation, --limit or --backend")
    p.set_defaults(handler=_train)
    _register_ablation(subparsers)
    p = subparsers.add_parser("curves", help="learning curves of runs side by side",
                              description="Plot train (solid) and test (dashed) loss and "
                                          "accuracy per epoch of each RUN's metrics.csv.")
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--labels", nargs="+", help="one label per run (default: folder names)")
    p.add_argument("--title", default="")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.set_defaults(handler=_curves)
    p = subparsers.add_parser("evaluate", help="accuracy of a trained run on a data split",
                              description="Load a run's checkpoint and evaluate it.")
    p.add_argument("run", help="run directory made by delayprop train")
    p.add_argument("--split", default="test", help="train or test (default test)")
    p.add_argument("--data-path", help="where the data set is, if not where it was trained")
    p.add_argument("--confusion", metavar="PNG",
                   help="also draw the confusion matrix here (and add it, with each "
                        "class's accuracy, to the printed result)")
    p.set_defaults(handler=_evaluate)


def _curves(args) -> int:
    import csv
    from pathlib import Path

    from delayprop.training.plots import plot_learning_curves
    labels = args.labels or [Path(r).name for r in args.runs]
    if len(labels) != len(args.runs):
        raise ConfigError(f"{len(labels)} labels for {len(args.runs)} runs")
    runs = {}
    for label, run in zip(labels, args.runs):
        path = Path(run) / "metrics.csv"
        if not path.is_file():
            raise ConfigError(f"{path} not found: give run directories made by delayprop train")
        with open(path) as f:
            runs[label] = [{k: float(v) for k, v in row.items() if v != ""}
                           for row in csv.DictReader(f)]
    print(plot_learning_curves(runs, args.out, args.title))
    return 0


def _evaluate(args) -> int:
    from delayprop.training.experiment import evaluate_run
    print(json.dumps(evaluate_run(args.run, args.split, args.data_path, args.confusion),
                     indent=1))
    return 0


def _add_config_options(p) -> None:
    p.add_argument("--config", help="TOML file with ExperimentConfig settings; options given "
                                    "on the command line override it")
    for flag, kind, text in _OPTIONS:
        p.add_argument(flag, type=kind, help=text)
    from delayprop.data import add_data_options
    add_data_options(p)
    p.add_argument("--no-schedule", action="store_true",
                   help="constant learning rates instead of OneCycle / cosine annealing")


def _register_ablation(subparsers) -> None:
    from delayprop.training.ablation import KEEP_FRACTIONS, MODELS
    p = subparsers.add_parser(
        "ablation", help="the paper's Figure 3 sweep: structure x delays vs sparsity",
        description="Train the paper's four models (structure fixed/learned x delays "
                    "fixed/learned) and the control (learned structure without Dale's law) "
                    "at each sparsity for several seeds; resumable (finished runs are "
                    "skipped, started ones resume from their checkpoints). Under "
                    "'mpirun -n N' the ranks share the runs (a shared file system is "
                    "needed). Writes ablation.csv, ablation_runs.csv and ablation.png into "
                    "--out.")
    _add_config_options(p)
    p.add_argument("--seeds", type=int, default=3, help="seeds per model and sparsity")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--keep", nargs="+", type=float, default=list(KEEP_FRACTIONS),
                   help="fractions of input->hidden synapses present")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs side by side, each in its own process with cores/N threads "
                        "(default 1: one after the other, in this process)")
    p.add_argument("--rewire-every", type=int,
                   help="learned structure: rewire every N batches (default: each epoch)")
    p.add_argument("--grad-window", type=_grad_window,
                   help="learned structure: RigL sums the gradient of the last N batches "
                        "before each rewiring, or of 'all' since the last one (default 16)")
    p.add_argument("--regrow-delay", choices=["keep", "random", "gradient"],
                   help="learned structure: delay of a regrown synapse (default keep)")
    _add_drop_options(p, "learned structure: ")
    _add_sign_option(p, "learned structure: ")
    p.add_argument("--out", required=True, help="sweep directory (e.g. results/ablation); "
                                                "one per setting")
    p.set_defaults(handler=_ablation, no_delay_learning=False, rewire=None, fan_in=None,
                   l1=None, dale=None, hardware=None)


def _add_sign_option(p, prefix: str) -> None:
    p.add_argument("--excitatory-fraction", type=float,
                   help=prefix + "share of positive signs among the rewired synapses (per "
                                 "input channel under Dale's law; default 0.8)")


def _add_drop_options(p, prefix: str) -> None:
    p.add_argument("--drop", choices=["deepr", "rigl"],
                   help=prefix + "which synapses a rewiring drops: deepr (default: those "
                        "whose weight reached 0) or rigl (also the weakest, a fraction "
                        "decaying along a cosine to 0 at 75%% of training; Evci et al. "
                        "2020)")
    p.add_argument("--drop-fraction", type=float,
                   help=prefix + "RigL's drop: the fraction of active synapses dropped at "
                                 "the start (default 0.3)")


def _grad_window(text: str):
    if text == "all":
        return "all"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number >= 1 or 'all', got {text!r}")
    return value


def _ablation_config(args):
    """The sweep's base config; its rewiring options go to the learned-structure runs."""
    cfg = config_from_args(args)
    if args.grad_window is not None:
        cfg = cfg.replace(rewiring={**cfg.rewiring, "grad_window": args.grad_window})
    return cfg


def _ablation(args) -> int:
    from delayprop.training.ablation import run_ablation
    cfg = _ablation_config(args)
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {args.seeds}")
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {args.jobs}")
    from delayprop.training.parallel import world
    path = run_ablation(cfg, args.out, models=args.models, keeps=args.keep,
                        seeds=range(args.seeds), quiet=args.quiet, jobs=args.jobs)
    if world().is_root:                   # under mpirun: the table once
        print(path.read_text())
    return 0


def config_from_args(args):
    """ExperimentConfig from a parsed command line (TOML first, options override)."""
    from delayprop.training.experiment import ExperimentConfig
    cfg = ExperimentConfig.from_toml(args.config) if args.config else ExperimentConfig()
    changes = {}
    for flag, _, _ in _OPTIONS:
        name = flag[2:].replace("-", "_")
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    from delayprop.data import data_options_from_args
    given = data_options_from_args(args)
    if given:
        changes["data_options"] = {**cfg.data_options, **given}
    if args.no_delay_learning:
        changes["delay_learning"] = False
    if args.no_schedule:
        changes["schedule"] = False
    rewiring = dict(cfg.rewiring)
    names = {"rewire": "grow", "rewire_every": "every_batches"}
    for key in ("rewire", "regrow_delay", "fan_in", "rewire_every", "l1", "dale", "drop",
                "drop_fraction", "excitatory_fraction"):
        value = getattr(args, key)
        if value is not None:
            # --rewire deepr: DEEP R's random growth; rigl: RigL's gradient-based growth
            rewiring[names.get(key, key)] = {"deepr": "random"}.get(value, value) \
                if key == "rewire" else value
    if rewiring:
        changes["rewiring"] = rewiring
    if args.hardware:
        changes["hardware"] = args.hardware
    from delayprop.training.experiment import RECIPES, ExperimentConfig, read_toml
    explicit = set(changes) | (set(read_toml(args.config)) if args.config else set())
    run = Path(args.out) if getattr(args, "resume", False) and args.out else None
    if run is not None and (run / "config.json").is_file():
        # a resumed run keeps its own settings; only what is given here changes (and is
        # checked against what may change), never a default of today
        stored = ExperimentConfig.from_run(run)
        return stored.replace(**{k: getattr(cfg, k) for k in explicit if k not in changes},
                              **changes)
    # the data set's recipe fills what neither the command line nor the TOML file sets
    data = changes.get("data", cfg.data)
    recipe = {k: v for k, v in RECIPES.get(data, {}).items() if k not in explicit}
    if changes.get("encode", cfg.encode):          # spikes: no graded-input augmentation
        recipe = {k: v for k, v in recipe.items() if not k.startswith("augment")}
    return cfg.replace(**recipe, **changes)


def _train(args) -> int:
    from delayprop.training.experiment import run_experiment
    cfg = config_from_args(args)
    if cfg.rewiring and cfg.sparsity == 0 and not cfg.hardware:
        raise ConfigError("--rewire needs a sparse connection: give --sparsity (e.g. 0.875)")
    command = "delayprop " + " ".join(shlex.quote(a) for a in args.argv)
    if args.allow_changes and not args.resume:
        raise ConfigError("--allow-changes applies to --resume only")
    summary = run_experiment(cfg, args.out, resume=args.resume, quiet=args.quiet,
                             command=command, allow_changes=args.allow_changes)
    print(json.dumps(summary, indent=1))
    return 0
