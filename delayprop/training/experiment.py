"""A training run as one configuration: data, network, optimisation, outputs.

``delayprop train`` is a thin wrapper around :func:`run_experiment`. A run directory holds::

    config.json         the ExperimentConfig (and the command line that made the run)
    metrics.csv         one row per epoch (loss, accuracy, spikes/neuron, val/test, delays)
    metrics.jsonl       per-epoch lists (delay histograms)
    learning_curve.png  loss and accuracy per epoch
    checkpoint.npz      the latest checkpoint, for --resume
    checkpoint.prev.npz the one before (resume falls back to it if the latest is damaged)
    graph_initial.npz   the network before training (NetworkGraph; for analysis/export)
    graph_final.npz     the network after training
    summary.json        final train/test accuracy and timings

The checkpoint and the metrics files are committed together after every epoch
(:mod:`delayprop.training.journal`); every write is atomic (:mod:`delayprop.storage`).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import math

import numpy as np

from delayprop import storage
from delayprop.data import GRADED_DATASETS
from delayprop.delays import check_ring_size
from delayprop.errors import ConfigError, NonFiniteError
from delayprop.graph import save_graph

__all__ = ["ExperimentConfig", "run_experiment", "build_network", "evaluate_run"]

logger = logging.getLogger(__name__)

DATASETS = ("rawhd", "shd", "ssc", "audio")
#: connections that may have (learned) delays, each 0..max_delay-1 steps
DELAYED = ("input_hidden", "hidden_output")
#: the best recipe found so far per data set (README, "Learned delays"): the value of a
#: setting that neither the command line nor a TOML file gives. ExperimentConfig's own
#: defaults stay as they were, so a stored run always means what it meant.
RECIPES = {"rawhd": {"epochs": 40, "weight_sd": 0.2, "delay_lr": 0.05, "augment_shift": 2}}
#: the value of a setting that a run's config.json lacks (the run predates it)
ABSENT_FROM_OLD_RUNS = {"delays": "input_hidden", "dropout": 0.0, "dropout_mode": "event",
                        "spike_time": "end"}


def read_toml(path) -> dict:
    """The settings of a TOML file, as given (no defaults)."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"cannot read config {path}: {err}") from err


@dataclass(frozen=True)
class ExperimentConfig:
    """Every setting of a training run (time in ms; delays in steps).

    Defaults are those of the RawHD experiments: 40 -> 256 -> 20, ring size
    ``max_delay`` = D = 25 (delays 0..24 steps), delays learned, Adam with OneCycle for
    weights and cosine annealing for delays.
    """
    data: str = "rawhd"
    data_path: str | None = None
    data_options: dict = field(default_factory=dict)  # load_dataset keywords: labels,
    #   split rule, features, on_error (delayprop.data.add_data_options)
    limit: int | None = None             # use only the first N training samples
    epochs: int = 50
    batch_size: int = 32
    hidden: int = 256
    max_delay: int = 25                  # ring size D: delays 0..D-1 steps (--max-delay)
    delays: str = "input_hidden"         # connections with delays (--delays), see DELAYED
    delay_learning: bool = True
    dropout: float = 0.0                 # of hidden spikes in training (EventPropCompiler)
    dropout_mode: str = "event"          # 'event': each spike; 'neuron': per sample
    spike_time: str = "end"              # hidden spike in the backward pass: 'end' or 'mid'
    sparsity: float = 0.0                # fraction of input->hidden synapses absent
    tau_mem: float = 20.0
    tau_syn: float = 5.0
    readout_tau_mem: float = 20.0
    readout: str = "sum_var"
    weight_mean: float = 0.0
    weight_sd: float = 0.1               # input->hidden, scaled by sqrt(40/fan-in)
    out_weight_sd: float = 0.05
    lr: float = 2e-3
    delay_lr: float = 0.5
    schedule: bool = True                # OneCycle (weights) + CosineAnnealing (delays)
    reg_lambda: float = 0.0
    reg_nu_upper: float = 10.0
    seed: int = 0
    precision: str = "float"
    backend: str = "cpu"
    rewiring: dict = field(default_factory=dict)   # see delayprop.training.rewiring
    hardware: str | None = None          # export profile whose limits training obeys
    encode: str | None = None            # 'sigma_delta': RawHD values -> spikes
    augment_shift: int = 0               # training batches moved by up to +-N channels
    augment_time_shift: int = 0          # ... and by up to +-N steps (graded data only)
    on_nan: str = "stop"                 # or 'skip-batch' (see delayprop.training.guard)

    def __post_init__(self):
        if self.data not in DATASETS:
            raise ConfigError(f"data must be one of {DATASETS}, got {self.data!r}")
        from delayprop.data import check_data_options
        check_data_options(self.data, self.data_options)
        for name in ("epochs", "batch_size", "hidden"):
            value = getattr(self, name)
            if int(value) != value or value < (0 if name == "epochs" else 1):
                raise ConfigError(f"{name} must be a whole number >= "
                                  f"{0 if name == 'epochs' else 1}, got {value!r}")
        check_ring_size(self.max_delay, "ExperimentConfig", "max_delay")
        parts = self.delays.split(",") if isinstance(self.delays, str) else [None]
        if not parts or len(set(parts)) != len(parts) or not set(parts) <= set(DELAYED):
            raise ConfigError(f"delays must name connections among {', '.join(DELAYED)} "
                              f"(comma-separated), got {self.delays!r}")
        if not (isinstance(self.dropout, (int, float)) and 0.0 <= self.dropout < 1.0):
            raise ConfigError(f"dropout must be a probability in [0, 1), got {self.dropout!r}")
        from delayprop.genn_models.adjoint import check_spike_time
        check_spike_time(self.spike_time)
        if self.dropout_mode not in ("event", "neuron"):
            raise ConfigError(f"dropout_mode must be 'event' or 'neuron', got "
                              f"{self.dropout_mode!r}")
        if not 0.0 <= self.sparsity < 1.0:
            raise ConfigError(f"sparsity must lie in [0, 1), got {self.sparsity}")
        for name in ("lr", "delay_lr", "weight_sd", "out_weight_sd", "reg_lambda"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("tau_mem", "tau_syn", "readout_tau_mem"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{name} must be a finite number > 0 (ms), got {value!r}")
        from delayprop.training.guard import ON_NAN
        if self.on_nan not in ON_NAN:
            raise ConfigError(f"on_nan must be one of {ON_NAN}, got {self.on_nan!r}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit must be >= 1, got {self.limit}")
        if self.encode not in (None, "sigma_delta"):
            raise ConfigError(f"encode must be 'sigma_delta' or unset, got {self.encode!r}")
        if self.encode and self.data not in GRADED_DATASETS:
            raise ConfigError("encode applies to graded data (rawhd, audio) only")
        for name in ("augment_shift", "augment_time_shift"):
            value = getattr(self, name)
            if int(value) != value or value < 0:
                raise ConfigError(f"{name} must be a whole number >= 0, got {value!r}")
        if (self.augment_shift or self.augment_time_shift) and \
                (self.data not in GRADED_DATASETS or self.encode):
            raise ConfigError("augmentation applies to graded inputs (rawhd, audio without "
                              "--encode) only")

    @classmethod
    def from_toml(cls, path) -> "ExperimentConfig":
        return cls._from_values(read_toml(path), path)

    @classmethod
    def from_run(cls, run_dir) -> "ExperimentConfig":
        """The configuration a run directory was trained with (its config.json); settings
        added to delayprop since then take their defaults."""
        path = Path(run_dir) / "config.json"
        if not path.is_file():
            raise ConfigError(f"{path} not found: give a run directory made by delayprop train")
        try:
            values = json.loads(path.read_text())["config"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"cannot read {path}: {err!r}") from err
        # a setting the run predates means what delayprop did then, not today's default
        return cls._from_values({**ABSENT_FROM_OLD_RUNS, **values}, path)

    @classmethod
    def _from_values(cls, values: dict, where) -> "ExperimentConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown settings {unknown}; known: {sorted(known)}")
        return cls(**values)

    def replace(self, **changes) -> "ExperimentConfig":
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def _load_data(cfg: ExperimentConfig):
    """Train and test splits, and the trial length in steps of 1 ms.

    RawHD and audio folders are graded (80 steps); SHD/SSC are spike events in ms,
    simulated for 1,000 steps (their recordings last up to ~1 s)."""
    from delayprop.data import load_dataset
    train = load_dataset(cfg.data, "train", path=cfg.data_path, **cfg.data_options)
    test = load_dataset(cfg.data, "test", path=cfg.data_path, **cfg.data_options)
    steps = train.num_steps if cfg.data in GRADED_DATASETS else 1000
    return train, test, steps


def _check_hardware(cfg: ExperimentConfig, graded: bool) -> None:
    """The run must produce a network the hardware profile can hold."""
    from delayprop.export import get_profile
    profile = get_profile(cfg.hardware)
    slots = profile.delay_slots
    if slots is not None and cfg.max_delay > slots:
        raise ConfigError(f"hardware '{profile.name}' holds delays up to {slots - 1} steps "
                          f"({profile.max_delay_ticks} ticks), a ring size of {slots}; got "
                          f"--max-delay {cfg.max_delay}: use --max-delay {slots}")
    if graded and not profile.graded_events:
        raise ConfigError(f"hardware '{profile.name}' carries only binary spikes; encode the "
                          f"graded input with --encode sigma_delta")


def build_network(cfg: ExperimentConfig, num_inputs: int, num_classes: int, graded: bool):
    """The 'input -> hidden -> output' network of a run (populations named so)."""
    from delayprop.training import (Connection, Dense, Exponential, FixedProbability,
                                    GradedInput, LeakyIntegrate, LeakyIntegrateFire, Network,
                                    Normal, Population, SpikeInput, Uniform)
    fan_in = num_inputs * (1.0 - cfg.sparsity)
    if cfg.sparsity and fan_in < 1.0:
        raise ConfigError(f"sparsity {cfg.sparsity} leaves a hidden neuron {fan_in:.3g} of its "
                          f"{num_inputs} input synapses on average, so most have none; with "
                          f"{num_inputs} inputs sparsity must be <= {1 - 1 / num_inputs:.4g}")
    net = Network()
    sd = cfg.weight_sd * np.sqrt(40.0 / max(fan_in, 1.0))
    with net:
        inp = Population(GradedInput() if graded else SpikeInput(), num_inputs, name="input")
        hid = Population(LeakyIntegrateFire(cfg.tau_mem, 1.0), cfg.hidden, name="hidden")
        out = Population(LeakyIntegrate(cfg.readout_tau_mem, readout=cfg.readout),
                         num_classes, name="output")
        weight = Normal(cfg.weight_mean, sd)
        connectivity = Dense(weight) if cfg.sparsity == 0 else \
            FixedProbability(weight, p=1.0 - cfg.sparsity)
        delayed = {name: {"delay": Uniform(0, cfg.max_delay - 1) if cfg.max_delay > 1 else 0,
                          "max_delay_steps": cfg.max_delay}
                   for name in cfg.delays.split(",")}
        ih = Connection(inp, hid, connectivity, Exponential(cfg.tau_syn), name="input_hidden",
                        **delayed.get("input_hidden", {}))
        Connection(hid, out, Dense(Normal(0.0, cfg.out_weight_sd)), Exponential(cfg.tau_syn),
                   name="hidden_output", **delayed.get("hidden_output", {}))
    return net, inp, hid, out, ih


def make_compiler(cfg: ExperimentConfig, out, ih, num_steps, batches_per_epoch,
                  communicator=None):
    """The EventPropCompiler of a run's settings, for the network of :func:`build_network`
    (``out`` its readout, ``ih`` its input->hidden connection; ``communicator``: see
    :func:`run_experiment`)."""
    from delayprop.training import (Adam, CosineAnnealing, EventPropCompiler, OneCycle,
                                    SoftmaxCrossEntropy)
    lr = OneCycle(cfg.lr) if cfg.schedule else cfg.lr
    delay_lr = CosineAnnealing(cfg.delay_lr) if cfg.schedule else cfg.delay_lr
    learn = [c for c in ih.network.connections if c.has_delay] if cfg.delay_learning else []
    rewiring = {}
    if cfg.rewiring:
        from delayprop.training.rewiring import rewiring_from_config
        rewiring = {ih: rewiring_from_config(cfg)}
    return EventPropCompiler(num_steps, {out: SoftmaxCrossEntropy()}, Adam(lr),
                             batch_size=cfg.batch_size, delay_learning=learn or False,
                             delay_optimiser=Adam(delay_lr), reg_lambda=cfg.reg_lambda,
                             reg_nu_upper=cfg.reg_nu_upper, precision=cfg.precision,
                             backend=cfg.backend, seed=cfg.seed, rewiring=rewiring,
                             dropout=cfg.dropout, dropout_mode=cfg.dropout_mode,
                             spike_time=cfg.spike_time, communicator=communicator)


def _augmentation(cfg: ExperimentConfig, inp) -> dict:
    from delayprop.training.augment import ChannelShift, Compose, TimeShift
    parts = []
    if cfg.augment_shift:
        parts.append(ChannelShift(cfg.augment_shift))
    if cfg.augment_time_shift:
        parts.append(TimeShift(cfg.augment_time_shift))
    return {inp: Compose(*parts)} if parts else {}


#: settings a resumed run may change freely: they do not change what was trained
FREE_ON_RESUME = ("epochs", "data_path", "on_nan")
#: settings it may change with ``allow_changes`` (--allow-changes): the network's shape
#: and the checkpoint's arrays stay as they are
CHANGEABLE_ON_RESUME = ("lr", "delay_lr", "schedule", "reg_lambda", "reg_nu_upper",
                        "augment_shift", "augment_time_shift", "limit", "backend")


def _check_resumable(cfg: ExperimentConfig, out_dir: Path, allow_changes: bool) -> None:
    """A resumed run keeps its settings; name each one that differs (old -> new)."""
    saved = ExperimentConfig.from_run(out_dir).to_json()
    new = cfg.to_json()
    differ = [k for k in new if k not in FREE_ON_RESUME and saved.get(k) != new[k]]
    fixed = [k for k in differ if k not in CHANGEABLE_ON_RESUME]
    if not differ or (allow_changes and not fixed):
        return
    changes = ", ".join(f"{k} {saved.get(k)!r} -> {new[k]!r}" for k in differ)
    if fixed:
        how = (f"{', '.join(fixed)} change{'s' if len(fixed) == 1 else ''} the network "
               f"or its data, so it cannot continue this run: give the run's own settings, "
               f"or train a new run with another --out")
    else:
        how = ("give the run's own settings, or add --allow-changes to continue with the "
               "new values")
    raise ConfigError(f"{out_dir} was made with other settings: {changes}; {how} (--epochs, "
                      f"--data-path and --on-nan may always change)")


def _warn_unconnected(net, cfg: ExperimentConfig) -> None:
    """Hidden neurons that a sparse input connection leaves without any input synapse."""
    if not cfg.sparsity or cfg.rewiring:
        return
    post = net.connection_values("input_hidden")["post"]
    silent = int((np.bincount(post, minlength=cfg.hidden) == 0).sum())
    if silent:
        logger.warning("sparsity %s leaves %d of %d hidden neurons without any input "
                       "synapse", cfg.sparsity, silent, cfg.hidden)


def _check_augmentation(cfg: ExperimentConfig, channels: int, steps: int) -> None:
    if cfg.augment_shift >= channels:
        raise ConfigError(f"augment_shift {cfg.augment_shift} moves samples by as many "
                          f"channels as there are ({channels}): use fewer than {channels}")
    if cfg.augment_time_shift >= steps:
        raise ConfigError(f"augment_time_shift {cfg.augment_time_shift} moves samples by as "
                          f"many steps as a trial has ({steps}): use fewer than {steps}")


def _write_json(path: Path, value: dict) -> None:
    # strict JSON: a value that is not finite is written as null, never as NaN
    value = {k: None if isinstance(v, float) and not math.isfinite(v) else v
             for k, v in value.items()}
    storage.write_text(path, json.dumps(value, indent=1))


def run_experiment(cfg: ExperimentConfig, out_dir, resume: bool = False, quiet: bool = False,
                   command: str | None = None, allow_changes: bool = False,
                   communicator=None) -> dict:
    """Train as configured, writing the run directory; return the summary.

    With ``resume``, continue the run in ``out_dir`` from its newest readable checkpoint;
    its settings must be the same (but for :data:`FREE_ON_RESUME`, and with
    ``allow_changes`` :data:`CHANGEABLE_ON_RESUME`). ``communicator`` (a
    :class:`~delayprop.training.parallel.Communicator`) holds the processes that share
    each batch: MPI's world under ``mpirun`` by default; a sweep under ``mpirun`` gives
    each run :class:`~delayprop.training.parallel.SingleProcess`."""
    from delayprop.training import ProgressBar
    from delayprop.training.callbacks import SilenceWarning
    from delayprop.training.journal import RunJournal, resume as resume_run
    from delayprop.data import data_record
    from delayprop.training.parallel import world

    out_dir = Path(out_dir)
    # under mpirun every rank trains its shard of each batch; rank 0 alone writes the run
    comm = communicator if communicator is not None else world()
    root = comm.is_root
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} is a file, not a directory")
    with storage.guarded(out_dir, "read"):
        holds_run = out_dir.exists() and any(out_dir.iterdir())
    if holds_run and not resume:
        raise ConfigError(f"{out_dir} already holds a run; use --resume to continue it or "
                          f"choose another --out")
    if resume and (out_dir / "config.json").exists():
        _check_resumable(cfg, out_dir, allow_changes)
    train, test, num_steps = _load_data(cfg)
    x_train, y_train = train.x, train.y
    if cfg.limit:
        x_train, y_train = x_train[:cfg.limit], y_train[:cfg.limit]
    x_test = test.x
    graded = cfg.data in GRADED_DATASETS and not cfg.encode
    if graded:
        _check_augmentation(cfg, train.num_channels, num_steps)
    if cfg.encode == "sigma_delta":
        from delayprop.data import sigma_delta_spikes
        x_train, x_test = sigma_delta_spikes(x_train), sigma_delta_spikes(x_test)
    if cfg.hardware:
        _check_hardware(cfg, graded)
    net_desc, inp, hid, out, ih = build_network(cfg, train.num_channels, train.num_classes,
                                                 graded)
    batches = -(-len(y_train) // cfg.batch_size)
    # before the directory exists: bad settings (e.g. of rewiring) leave nothing behind
    compiler = make_compiler(cfg, out, ih, num_steps, batches, communicator=comm)
    comm.barrier()                   # every rank has checked the directory before rank 0 writes
    if root:
        with storage.guarded(out_dir, "create"):
            out_dir.mkdir(parents=True, exist_ok=True)
    net = compiler.compile(net_desc, name=f"run_{cfg.data}")
    try:
        meta = resume_run(out_dir, net, write=root) if resume else None
        if meta is not None:
            logger.info("resumed %s at epoch %d", out_dir, meta["epoch"])
        else:
            _warn_unconnected(net, cfg)
            if root and not (out_dir / "graph_initial.npz").exists():
                with storage.guarded(out_dir / "graph_initial.npz"):
                    save_graph(out_dir / "graph_initial.npz", net.to_graph())
        # only now: a failed resume leaves the run's record as it was
        if root:
            _write_json(out_dir / "config.json",
                        {"config": cfg.to_json(), "command": command or " ".join(sys.argv),
                         "data": data_record(train, test)})
        remaining = cfg.epochs - net.epoch
        t0 = time.perf_counter()
        if remaining > 0:
            if root:
                with storage.guarded(out_dir / "summary.json"):
                    (out_dir / "summary.json").unlink(missing_ok=True)  # of fewer epochs
            callbacks = [ProgressBar(disable=True if quiet else None), RunJournal(out_dir),
                         SilenceWarning()] if root else []
            try:
                net.train({inp: x_train}, {out: y_train}, remaining,
                          validation_x={inp: x_test}, validation_y={out: test.y},
                          augment=_augmentation(cfg, inp), on_nan=cfg.on_nan,
                          callbacks=callbacks)
            except NonFiniteError as err:
                kept = f"keeps its checkpoint of epoch {net.epoch}, untouched" \
                    if net.epoch else "has no checkpoint yet"
                raise NonFiniteError(f"{err}. The run directory {out_dir} {kept}") from err
        final = net.evaluate({inp: x_test}, {out: test.y})
        summary = _summary(net, final, len(y_train), len(test.y), t0)
        if root:
            _write_results(out_dir, net, summary, f"{cfg.data}: {out_dir.name}")
        comm.barrier()
    finally:
        net.close()
    return summary


def _summary(net, final: dict, train_samples: int, test_samples: int, t0: float) -> dict:
    return {"test_accuracy": final["accuracy"], "test_loss": final["loss"],
            "train_accuracy": net.history[-1]["accuracy"] if net.history else None,
            "epochs": net.epoch, "train_seconds_this_call": time.perf_counter() - t0,
            "mean_epoch_seconds": float(np.mean([h["seconds"] for h in net.history]))
            if net.history else None,
            "best_test_accuracy": max((h.get("val_accuracy", 0) for h in net.history),
                                      default=None),
            "train_samples": train_samples, "test_samples": test_samples}


def _write_results(out_dir: Path, net, summary: dict, title: str) -> None:
    """The final graph, learning curve and summary of a finished run."""
    from delayprop.training.plots import plot_learning_curve
    with storage.guarded(out_dir / "graph_final.npz"):
        save_graph(out_dir / "graph_final.npz", net.to_graph())
    with storage.guarded(out_dir / "learning_curve.png"):
        plot_learning_curve(net.history, out_dir / "learning_curve.png", title=title)
    _write_json(out_dir / "summary.json", summary)


def evaluate_run(run_dir, split: str = "test", data_path: str | None = None,
                 confusion=None) -> dict:
    """Accuracy and loss of a run's last checkpoint on one split of its data set; with
    ``confusion`` (a PNG path) also the confusion matrix (in the result, and drawn there)
    and each class's accuracy."""
    from delayprop.data import load_dataset, sigma_delta_spikes
    from delayprop.training.journal import load_latest
    run_dir = Path(run_dir)
    cfg = ExperimentConfig.from_run(run_dir)
    ckpt = run_dir / "checkpoint.npz"
    if not ckpt.exists() and not (run_dir / "checkpoint.prev.npz").exists():
        raise ConfigError(f"{ckpt} not found: give a run directory made by delayprop train")
    if data_path:
        cfg = cfg.replace(data_path=data_path)
    data = load_dataset(cfg.data, split, path=cfg.data_path, **cfg.data_options)
    x = sigma_delta_spikes(data.x) if cfg.encode == "sigma_delta" else data.x
    graded = cfg.data in GRADED_DATASETS and not cfg.encode
    net_desc, inp, hid, out, ih = build_network(cfg, data.num_channels, data.num_classes,
                                                 graded)
    steps = data.num_steps if cfg.data in GRADED_DATASETS else 1000
    net = make_compiler(cfg, out, ih, steps, 1).compile(net_desc, name=f"run_{cfg.data}")
    try:
        load_latest(run_dir, net)
        result = net.evaluate({inp: x}, {out: data.y})
        if confusion is not None:
            from delayprop.training.plots import confusion_matrix, plot_confusion
            counts = confusion_matrix(data.y, net.predict({inp: x}).argmax(axis=1),
                                      data.num_classes)
            plot_confusion(counts, data.class_names, confusion,
                           f"{run_dir.name}, {split} split")
            result["per_class_accuracy"] = {
                str(name): float(counts[i, i] / counts[i].sum()) if counts[i].sum() else None
                for i, name in enumerate(data.class_names)}
            result["confusion"] = counts.tolist()
    finally:
        net.close()
    return {"run": str(run_dir), "split": split, "epoch": net.epoch, **result,
            "class_names": list(data.class_names)}
