"""EventPropCompiler: a Network -> a compiled training network (forward + adjoint).

Every population and connection becomes a GeNN-language model in one generated library:
inputs as SpikeSourceArray / GradedInput, hidden LIF with its adjoint (LIFAdjoint), the
readout with its adjoint (LeakyIntegrateAdjoint_*), each connection a pulse synapse with
(learnable) dendritic delay and its adjoint accumulating dL/dw and dL/dd. The loss runs as
a generated block between the passes.

Loss, following Wunderlich & Pehle (2021) and Nowotny et al. (2025, delays):

.. math:: L = -\\frac{1}{B} \\sum_b \\log \\mathrm{softmax}(z_b)_{y_b}, \\quad
          z_{b,o} = \\sum_n V_{b,o}(n)\\ \\text{(sum_var; avg_var, max_var,
          avg_var_exp_weight likewise)}
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from delayprop.compile import Model, TrainingSpec, init_postsynaptic, init_weight_update
from delayprop.errors import ConfigError
from delayprop.genn_models import ExpCurr, GradedInput as GradedInputModel, SpikeSourceArray
from delayprop.genn_models.adjoint import (DROPOUT_MODES, check_spike_time, lif_adjoint,
                                           lif_train, pulse_adjoint, pulse_train,
                                           readout_adjoint, readout_train)
from delayprop.training.connectivity import sample_values
from delayprop.training.losses import Loss
from delayprop.training.network import Connection, Network, Population
from delayprop.training.neurons import (GradedInput, LeakyIntegrate, LeakyIntegrateFire,
                                        SpikeInput)
from delayprop.training.optimisers import Adam, Optimiser

__all__ = ["EventPropCompiler"]

logger = logging.getLogger(__name__)


@dataclass
class EventPropCompiler:
    """Compile a :class:`Network` for EventProp training.

    Parameters
    ----------
    example_timesteps : int
        Steps per trial (sample).
    losses : dict
        ``{readout population: Loss}``; exactly one readout.
    optimiser : Optimiser
        For weights (default ``Adam(1e-3)``).
    batch_size : int
    delay_learning : bool or list of Connection
        Learn the delays of every delayed connection (True) or of the listed ones.
    delay_optimiser : Optimiser
        For delays (default ``Adam(1e-1)``); delays are clamped to [0, D - 1].
    reg_lambda, reg_nu_upper : float
        Spike-count regulariser of hidden LIF populations: each spike of a neuron whose
        batch-mean count exceeds ``reg_nu_upper`` gets ``dl/dt_spike =
        -reg_lambda (count - reg_nu_upper)`` (a heuristic, as in mlGeNN: counts are not
        differentiable). 0 disables it.
    dt : float
        Step in ms.
    precision, backend : str
        ``'float'``/``'double'`` and ``'cpu'``/``'cuda'``.
    seed : int
        Seeds connectivity, initial weights and delays, and shuffling.
    max_spikes : int, optional
        Fixed tape capacity per population and instance; by default the tape grows.
    trial_inputs : 'auto', bool or list of input populations
        Which inputs' connections are computed for the whole trial at once
        (delayprop/compile/trial.py) instead of step by step through the dendritic ring:
        the same spikes either way. The trial-level path costs the same whatever the
        input's activity (every synapse x every step), the ring costs per event, so
        ``'auto'`` (the default) chooses graded inputs, which have an event at nearly
        every step (RawHD: several times faster), and keeps spike inputs on the ring.
        True chooses every input, False none.
    dropout : float
        Probability p that a spike of a hidden (LIF) population is dropped in training: it
        reaches no synapse (and so brings no adjoint from downstream); kept spikes carry
        1/(1-p). Seeded by ``seed``, epoch and batch; none in evaluation. 0 disables it.
    dropout_mode : str
        ``'event'``: every spike independently (``nn.Dropout`` on the spike tensor);
        ``'neuron'``: every hidden neuron of every sample, for the whole trial.
    spike_time : str
        Where the backward pass places a hidden spike of step k: ``'end'`` (k + 1) dt,
        where the forward pass emits it, or ``'mid'`` (k + 1/2) dt, which brings the
        delay gradients at dt = 1 ms closer to the continuous-time ones but trained
        RawHD's recipe to lower test accuracy (delayprop/genn_models/adjoint.py).
    communicator : parallel.Communicator, optional
        The ranks that share each batch (data-parallel training,
        :mod:`delayprop.training.parallel`); ``batch_size`` is then the global batch and
        each rank compiles ``ceil(batch_size / ranks)`` instances. By default MPI's world
        when launched by mpirun with several ranks, else one process.
    """
    example_timesteps: int
    losses: dict
    optimiser: Optimiser | None = None
    batch_size: int = 32
    delay_learning: bool | list = False
    delay_optimiser: Optimiser | None = None
    reg_lambda: float = 0.0
    reg_nu_upper: float = 0.0
    dt: float = 1.0
    precision: str = "float"
    backend: str = "cpu"
    seed: int = 0
    max_spikes: int | None = None
    trial_inputs: bool | str | list = "auto"
    rewiring: dict = field(default_factory=dict)
    dropout: float = 0.0
    dropout_mode: str = "event"
    spike_time: str = "end"
    communicator: object = None

    def __post_init__(self):
        check_spike_time(self.spike_time)
        if int(self.example_timesteps) != self.example_timesteps or self.example_timesteps < 1:
            raise ConfigError(f"example_timesteps must be a whole number >= 1, got "
                              f"{self.example_timesteps!r}")
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ConfigError(f"batch_size must be a whole number >= 1, got {self.batch_size!r}")
        if not isinstance(self.losses, dict) or len(self.losses) != 1:
            raise ConfigError("losses must be a dict with exactly one readout population, "
                              "e.g. {out: SoftmaxCrossEntropy()}")
        for pop, loss in self.losses.items():
            if not isinstance(loss, Loss):
                raise ConfigError(f"losses[{pop}]: expected a Loss (SoftmaxCrossEntropy()), "
                                  f"got {type(loss).__name__}")
        self.optimiser = self.optimiser or Adam(1e-3)
        self.delay_optimiser = self.delay_optimiser or Adam(1e-1)
        if self.reg_lambda < 0:
            raise ConfigError(f"reg_lambda must be >= 0, got {self.reg_lambda}")
        if not (isinstance(self.dropout, (int, float)) and 0.0 <= self.dropout < 1.0):
            raise ConfigError(f"dropout must be a probability in [0, 1), got {self.dropout!r}")
        if self.dropout_mode not in DROPOUT_MODES:
            raise ConfigError(f"dropout_mode must be one of {sorted(DROPOUT_MODES)}, got "
                              f"{self.dropout_mode!r}")

    # ------------------------------------------------------------------ checks
    def _check(self, network: Network) -> tuple[Population, list[Connection]]:
        (readout, _), = self.losses.items()
        if not isinstance(readout, Population) or readout.network is not network:
            raise ConfigError("the loss population is not a population of this network")
        if not isinstance(readout.neuron, LeakyIntegrate):
            raise ConfigError(f"the loss population '{readout.name}' must be LeakyIntegrate, "
                              f"got {type(readout.neuron).__name__}")
        for pop in network.populations:
            if isinstance(pop.neuron, LeakyIntegrate) and pop is not readout:
                raise ConfigError(f"population '{pop.name}' is LeakyIntegrate but has no "
                                  f"loss; only the readout may be LeakyIntegrate")
            if not isinstance(pop.neuron, (SpikeInput, GradedInput, LeakyIntegrateFire,
                                           LeakyIntegrate)):
                raise ConfigError(f"population '{pop.name}': EventProp supports SpikeInput, "
                                  f"GradedInput, LeakyIntegrateFire and LeakyIntegrate")
            incoming = [c for c in network.connections if c.target is pop]
            if not pop.neuron.is_input:
                if not incoming:
                    raise ConfigError(f"population '{pop.name}' has no incoming connection")
                taus = {c.synapse.tau for c in incoming}
                if len(taus) > 1:
                    raise ConfigError(f"population '{pop.name}': all incoming connections "
                                      f"must share one synaptic time constant for its "
                                      f"adjoint, got {sorted(taus)} ms")
        if self.delay_learning is True:
            learned = [c for c in network.connections if c.has_delay]
        elif self.delay_learning:
            learned = list(self.delay_learning)
            for c in learned:
                if not isinstance(c, Connection) or c.network is not network:
                    raise ConfigError(f"delay_learning lists {c!r}, not a connection of "
                                      f"this network")
                if not c.has_delay:
                    raise ConfigError(f"connection '{c.name}' learns delays but has "
                                      f"max_delay_steps = 1; set max_delay_steps")
        else:
            learned = []
        return readout, learned

    def _trial_inputs(self, network: Network) -> tuple[str, ...]:
        """Names of the input populations whose groups run at trial level."""
        inputs = [p for p in network.populations if p.neuron.is_input]
        choice = self.trial_inputs
        if choice == "auto":
            return tuple(p.name for p in inputs if isinstance(p.neuron, GradedInput))
        if choice is True or choice is False:
            return tuple(p.name for p in inputs) if choice else ()
        if isinstance(choice, str) or not all(p in inputs for p in choice):
            raise ConfigError(f"trial_inputs must be 'auto', True, False or a list of input "
                              f"populations of this network, got {choice!r}")
        return tuple(p.name for p in choice)

    def ranks(self):
        """The communicator of the processes that share each batch (see ``communicator``)."""
        from delayprop.training.parallel import world
        return self.communicator if self.communicator is not None else world()

    # ------------------------------------------------------------------ compile
    def compile(self, network: Network, name: str = "training"):
        """Generate, build and load; return a CompiledTrainingNetwork."""
        from delayprop.training.compiled_network import CompiledTrainingNetwork
        readout, learned = self._check(network)
        T = int(self.example_timesteps)
        (_, loss), = self.losses.items()
        model = Model(self.precision, name, self.backend, dt=self.dt,
                      batch_size=self.ranks().capacity(self.batch_size))
        traces = self._check_rewiring(network)
        model.training = TrainingSpec(T, readout.name, loss.code(readout.name),
                                      trace_vars=traces,
                                      trial_inputs=self._trial_inputs(network))
        model.tape_capacity = self.max_spikes
        tau_in = {p.name: next(c.synapse.tau for c in network.connections if c.target is p)
                  for p in network.populations if not p.neuron.is_input}
        for pop in network.populations:
            self._add_population(model, pop, tau_in.get(pop.name), T)
        rng = np.random.default_rng(self.seed)
        initial = {}
        for conn in network.connections:
            initial[conn.name] = self._add_connection(model, conn, conn in learned, rng)
        model.build()
        model.load(num_recording_timesteps=None)
        return CompiledTrainingNetwork(self, network, model, readout, learned, initial,
                                       np.random.default_rng(self.seed + 1))

    def _check_rewiring(self, network: Network) -> tuple:
        """Validate ``rewiring``; return the adjoint traces RigL needs."""
        from delayprop.training.connectivity import Dense
        from delayprop.training.rewiring import Rewiring
        traces = []
        for conn, rw in self.rewiring.items():
            if not isinstance(conn, Connection) or conn.network is not network:
                raise ConfigError(f"rewiring: {conn!r} is not a connection of this network")
            if not isinstance(rw, Rewiring):
                raise ConfigError(f"rewiring[{conn.name}]: expected DeepR(...) or RigL(...), "
                                  f"got {type(rw).__name__}")
            if isinstance(conn.connectivity, Dense):
                raise ConfigError(f"connection '{conn.name}' is Dense; rewiring needs a "
                                  f"sparse connectivity such as FixedProbability(p)")
            if rw.needs_probe and (conn.target.name, "LambdaI") not in traces:
                traces.append((conn.target.name, "LambdaI"))
        return tuple(traces)

    def _add_population(self, model: Model, pop: Population, tau_syn, T: int) -> None:
        n = pop.neuron
        if isinstance(n, SpikeInput):
            model.add_neuron_population(pop.name, pop.size, SpikeSourceArray)
        elif isinstance(n, GradedInput):
            model.add_neuron_population(pop.name, pop.size, GradedInputModel,
                                        {"num_steps": T})
        elif isinstance(n, LeakyIntegrateFire):
            params = {"tau_mem": n.tau_mem, "v_thresh": n.v_thresh, "v_reset": n.v_reset}
            init = {"V": 0.0, "SpikeCount": 0.0}
            if self.dropout:
                params["num_steps"], init["x"] = T, 1.0
            model.add_neuron_population(
                pop.name, pop.size, lif_train(self.dropout_mode if self.dropout else None),
                params, init, adjoint=lif_adjoint(self.spike_time),
                adjoint_params={"tau_syn": tau_syn})
        else:
            model.add_neuron_population(
                pop.name, pop.size, readout_train(n.readout),
                {"tau_mem": n.tau_mem, "num_steps": T}, {"V": 0.0},
                adjoint=readout_adjoint(n.readout, self.spike_time),
                adjoint_params={"tau_syn": tau_syn})

    def _add_connection(self, model, conn: Connection, learn_delay: bool, rng) -> dict:
        src, tgt = conn.source, conn.target
        pre, post = conn.connectivity.synapses(rng, src.size, tgt.size)
        n = len(pre)
        weight = sample_values(conn.connectivity.weight, rng, n, f"connection '{conn.name}' "
                               f"weight")
        # a hidden source with dropout carries a factor per spike, as a graded input does
        graded = isinstance(src.neuron, GradedInput) or \
            bool(self.dropout and isinstance(src.neuron, LeakyIntegrateFire))
        delayed = conn.has_delay
        values = {"g": weight}
        real = {}
        if delayed:
            delay = sample_values(conn.delay, rng, n, f"connection '{conn.name}' delay")
            real["d"] = np.clip(delay, 0, conn.max_delay_steps - 1)
            values["d"] = np.rint(real["d"])           # rounded, never truncated
        dense = conn.connectivity.matrix_type == "DENSE"
        delay_type = "uint8_t" if conn.max_delay_steps <= 256 else "uint16_t"
        if conn.max_delay_steps > 65536:
            raise ConfigError(f"connection '{conn.name}': max_delay_steps "
                              f"{conn.max_delay_steps} exceeds 65536")
        sg = model.add_synapse_population(
            conn.name, "DENSE" if dense else "SPARSE", src.name, tgt.name,
            init_weight_update(pulse_train(graded, delayed, delay_type), vars=values),
            init_postsynaptic(ExpCurr, {"tau": conn.synapse.tau}),
            max_dendritic_delay_timesteps=conn.max_delay_steps,
            adjoint=pulse_adjoint(graded, delayed, learn_delay, not src.neuron.is_input,
                                  self.spike_time),
            adjoint_params={"tau_syn": conn.synapse.tau})
        if not dense:
            sg.set_sparse_connections(pre, post)
        return {"pre": np.asarray(pre), "post": np.asarray(post), **values, **real}
