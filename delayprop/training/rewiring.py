"""DEEP R / RigL: learning which synapses exist, between epochs, without recompiling.

Each slot (i, j) of a rewired connection has a fixed sign s (one per presynaptic neuron
under Dale's law, else one per slot) and a parameter theta; ``w = s * max(theta, 0)``, and
the slot is active while ``theta > 0`` (Bellec et al. 2018). Between rewiring points the
optimiser updates theta with ``s * dL/dw`` (+ L1). At a rewiring point (every epoch, or
every N batches)::

    drop   'deepr': every active slot whose theta went <= 0 becomes dormant (DEEP R);
           'rigl' (Evci et al. 2020): also the weakest active slots (smallest theta), a
                    fraction alpha(t) of the active count, alpha decaying from
                    ``drop_fraction`` to 0 along a cosine:
                    alpha(t) = drop_fraction / 2 * (1 + cos(pi t / (drop_end T))),
                    t the optimiser step, T the training's steps; no rewiring after
                    ``drop_end T`` but of slots whose theta went <= 0;
    grow   as many dormant slots become active, so the count stays constant:
           'random' (DEEP R)  uniformly among the allowed dormant slots,
           'rigl'   (Evci et al. 2020) the k with the most negative s * G_ij, where
                    G_ij(d) = dL/dw_ij of a synapse that does not exist, from the
                    presynaptic events x_i(k) and the postsynaptic adjoint trace:
                    G_ij(d) = -tau_s mean_b sum_k x_i(k) lambda_I,j((k + 1 + d) dt);
           a slot dropped at this point is not a candidate; new theta = theta_init, its
           optimiser state reset; growth never breaks the fan-in limit K (per postsynaptic
           neuron) or the row limit (per presynaptic neuron).
    delay  of a regrown synapse: 'keep' (the slot's last delay; a slot never active keeps
           the random delay it was given at initialisation), 'random', or 'gradient'
           (the d in [0, D) with the most negative s * G_ij(d)).

G is summed over the last ``grad_window`` batches before a rewiring point (RigL uses the
gradient of the moment of growth; a window of batches lowers its noise at little cost).
The compiled group only ever holds active synapses: rewiring rewrites its ragged arrays
and uploads them; nothing is rebuilt, and simulated work scales with active synapses.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from delayprop.compile import handles
from delayprop.errors import ConfigError

__all__ = ["Rewiring", "DeepR", "RigL", "RewiredConnection", "rewiring_from_config",
           "GROW", "REGROW_DELAY"]

logger = logging.getLogger(__name__)

GROW = ("random", "rigl")
DROP = ("deepr", "rigl")
REGROW_DELAY = ("keep", "random", "gradient")


@dataclass(frozen=True)
class Rewiring:
    """Settings of one rewired connection (its sparsity comes from its connectivity:
    the number of synapses it starts with is kept constant).

    Parameters
    ----------
    grow : {'random', 'rigl'}
    regrow_delay : {'keep', 'random', 'gradient'}
    fan_in : int, optional
        At most K active synapses onto one postsynaptic neuron.
    row_limit : int, optional
        At most this many active synapses from one presynaptic neuron.
    dale : bool
        One sign per presynaptic neuron (Dale's law); else one per slot.
    excitatory_fraction : float
        Probability that a sign is positive.
    l1 : float
        L1 strength on theta (added to dL/dtheta of active slots).
    every_batches : int, optional
        Rewire every N batches instead of after every epoch.
    theta_init : float
        theta of a regrown synapse.
    grad_window : int, optional
        Batches before a rewiring point whose gradients RigL sums (None: all since the
        last rewiring).
    drop : {'deepr', 'rigl'}
        Drop only slots whose theta went <= 0, or also RigL's cosine-decayed fraction of
        the weakest (see the module).
    drop_fraction, drop_end : float
        RigL's drop: the fraction at the start, and the point of training (0-1) where it
        reaches 0 (Evci et al. 2020 use 0.3 and 0.75).
    """
    grow: str = "rigl"
    regrow_delay: str = "keep"
    fan_in: int | None = None
    row_limit: int | None = None
    dale: bool = True
    excitatory_fraction: float = 0.8
    l1: float = 0.0
    every_batches: int | None = None
    theta_init: float = 1e-12
    grad_window: int | None = 16
    drop: str = "deepr"
    drop_fraction: float = 0.3
    drop_end: float = 0.75

    def __post_init__(self):
        if self.grow not in GROW:
            raise ConfigError(f"grow must be one of {GROW}, got {self.grow!r}")
        if self.drop not in DROP:
            raise ConfigError(f"drop must be one of {DROP}, got {self.drop!r}")
        if not (0.0 <= self.drop_fraction <= 1.0 and 0.0 < self.drop_end <= 1.0):
            raise ConfigError(f"drop_fraction must lie in [0, 1] and drop_end in (0, 1], "
                              f"got {self.drop_fraction} and {self.drop_end}")
        if self.regrow_delay not in REGROW_DELAY:
            raise ConfigError(f"regrow_delay must be one of {REGROW_DELAY}, got "
                              f"{self.regrow_delay!r}")
        for name in ("fan_in", "row_limit", "every_batches", "grad_window"):
            value = getattr(self, name)
            if value is not None and (int(value) != value or value < 1):
                raise ConfigError(f"{name} must be a whole number >= 1 or None, got {value!r}")
        if not 0.0 <= self.excitatory_fraction <= 1.0:
            raise ConfigError(f"excitatory_fraction must lie in [0, 1], got "
                              f"{self.excitatory_fraction}")
        if self.l1 < 0 or not self.theta_init > 0:
            raise ConfigError("l1 must be >= 0 and theta_init > 0")

    @property
    def needs_probe(self) -> bool:
        return self.grow == "rigl" or self.regrow_delay == "gradient"


def DeepR(**kwargs) -> Rewiring:
    """DEEP R: drop at theta <= 0, regrow at random."""
    return Rewiring(grow="random", **kwargs)


def RigL(**kwargs) -> Rewiring:
    """DEEP R drop, RigL growth (most negative gradient of the dormant slots)."""
    return Rewiring(grow="rigl", **kwargs)


def rewiring_from_config(cfg) -> Rewiring:
    """Rewiring from an ExperimentConfig's ``rewiring`` dict and ``hardware`` profile."""
    values = dict(cfg.rewiring)
    if cfg.hardware:
        from delayprop.export import get_profile
        profile = get_profile(cfg.hardware)
        if profile.max_fan_in and values.get("fan_in") is None:
            values["fan_in"] = profile.max_fan_in
        if profile.max_row_length and values.get("row_limit") is None:
            values["row_limit"] = profile.max_row_length
    values.setdefault("grow", "rigl")
    values = {k: v for k, v in values.items() if v is not None}
    if values.get("grad_window") == "all":   # config's word for every batch since the last
        values["grad_window"] = None         # rewiring (None there means 'the default')
    return Rewiring(**values)


def sample_active(rng, num_pre: int, num_post: int, count: int, fan_in: int | None,
                  row_limit: int | None) -> np.ndarray:
    """A random [pre, post] mask with ``count`` slots obeying the limits."""
    capacity = min(num_pre * num_post, (fan_in or num_pre) * num_post,
                   (row_limit or num_post) * num_pre)
    if count > capacity:
        raise ConfigError(f"{count} synapses cannot fit fan-in {fan_in} and row limit "
                          f"{row_limit} on a {num_pre} x {num_post} connection (at most "
                          f"{capacity})")
    active = np.zeros((num_pre, num_post), bool)
    _grow_into(active, rng.permutation(num_pre * num_post), count, fan_in, row_limit)
    return active


def _grow_into(active: np.ndarray, order: np.ndarray, count: int, fan_in, row_limit) -> list:
    """Activate up to ``count`` slots from ``order`` (flat indices, in priority order)
    that keep every column within ``fan_in`` and every row within ``row_limit``."""
    num_pre, num_post = active.shape
    col = active.sum(axis=0)
    row = active.sum(axis=1)
    grown = []
    for flat in order:
        if len(grown) == count:
            break
        i, j = divmod(int(flat), num_post)
        if active[i, j] or (fan_in and col[j] >= fan_in) or (row_limit and row[i] >= row_limit):
            continue
        active[i, j] = True
        col[j] += 1
        row[i] += 1
        grown.append((i, j))
    return grown


class RewiredConnection:
    """Dense bookkeeping (theta, signs, real delays, optimiser state) of one rewired
    SPARSE connection of a compiled training network."""

    def __init__(self, net, conn, cfg: Rewiring, initial: dict, rng):
        self.net, self.conn, self.cfg, self.rng = net, conn, cfg, rng
        self.name = conn.name
        self.num_pre, self.num_post = conn.source.size, conn.target.size
        self.max_delay = conn.max_delay_steps
        self.learn_delays = conn.name in net.learned_delays
        count = len(initial["pre"])
        self.active = sample_active(rng, self.num_pre, self.num_post, count, cfg.fan_in,
                                    cfg.row_limit)
        if cfg.dale:
            signs = np.where(rng.random(self.num_pre) < cfg.excitatory_fraction, 1.0, -1.0)
            self.sign = np.repeat(signs[:, None], self.num_post, axis=1)
        else:
            self.sign = np.where(rng.random(self.active.shape) < cfg.excitatory_fraction,
                                 1.0, -1.0)
        self.theta = np.zeros(self.active.shape)
        self.theta[self.active] = np.maximum(np.abs(initial["g"]), cfg.theta_init)[:count]
        # every slot has a delay from the start: a slot that was never active and is
        # regrown with 'keep' starts from this random delay, not from 0
        self.delay = rng.uniform(0, self.max_delay - 1, self.active.shape)
        if "d" in initial:
            self.delay[self.active] = initial["d"][:count]
        opt, dopt = net.compiler.optimiser, net.compiler.delay_optimiser
        self.theta_state = opt.init_state(self.theta)
        self.delay_state = dopt.init_state(self.delay) if self.learn_delays else None
        self.probe = np.zeros((self.max_delay, self.num_pre, self.num_post))
        self.probe_batches = 0
        self.batches_since = 0
        self.log = {"dropped": 0, "grown": 0}
        self.upload()

    # ------------------------------------------------------------------ compiled group
    def weights(self) -> np.ndarray:
        return self.sign * np.maximum(self.theta, 0.0)

    def upload(self) -> None:
        """Write the active synapses into the compiled group (reallocating if needed)."""
        pre, post = np.nonzero(self.active)
        sg = self.net.model.synapse_populations[self.name]
        values = {"g": self.weights()[pre, post]}
        if "d" in sg.vars:
            values["d"] = np.rint(np.clip(self.delay[pre, post], 0, self.max_delay - 1))
        sg.set_connectivity(pre, post, **values)
        if self.name in self.net.delays:
            self.net.delays[self.name] = self.net.to_layout(self.name, self.delay[pre, post])

    def dense(self, ragged: np.ndarray) -> np.ndarray:
        """A ragged per-synapse array of the compiled group -> dense [pre, post]."""
        sg = self.net.model.synapse_populations[self.name]
        out = np.zeros(self.active.shape)
        conn = sg.connectivity()
        out[conn.pre, conn.post] = conn.gather(ragged)
        return out

    # ------------------------------------------------------------------ optimisation
    def step(self, grads: dict, progress: float) -> None:
        """Optimiser step on theta (and the real delays) of the active slots."""
        live = self.active & (self.theta > 0)
        g_w = self.dense(grads[f"{self.name}.g"])
        g_theta = np.where(live, self.sign * g_w + self.cfg.l1, 0.0)
        self.net.compiler.optimiser.step(self.theta, g_theta, self.theta_state, progress)
        if self.learn_delays:
            g_d = np.where(live, self.dense(grads[f"{self.name}.d"]), 0.0)
            self.net.compiler.delay_optimiser.step(self.delay, g_d, self.delay_state, progress)
            np.clip(self.delay, 0, self.max_delay - 1, out=self.delay)
        rt = self.net.runtime
        sg = self.net.model.synapse_populations[self.name]
        conn = sg.connectivity()
        rt.weights(self.name)[conn.slots] = self.weights()[conn.pre, conn.post]
        rt.push(handles.var_name(self.name, handles.WEIGHT))
        if self.learn_delays:
            self.net.delays[self.name][conn.slots] = self.delay[conn.pre, conn.post]
            self.net.upload_delays(self.name)

    # ------------------------------------------------------------------ RigL probe
    def wants_probe(self, batch_in_epoch: int, batches: int) -> bool:
        """Whether the coming batch's G(d) counts: it lies in the window before the next
        rewiring point."""
        if not self.cfg.needs_probe:
            return False
        window = self.cfg.grad_window
        period = self.cfg.every_batches or batches
        position = self.batches_since % period if self.cfg.every_batches else batch_in_epoch
        return window is None or position >= period - window

    def probe_sum(self, n: int) -> np.ndarray:
        """G(d) of the last backward pass summed over its ``n`` instances (zeros when
        ``n`` is 0: a rank with no share of a short batch)."""
        if not n:
            return np.zeros_like(self.probe)
        return dormant_gradients(self.net, self.conn, n, self.max_delay) * n

    def observe(self, probe: np.ndarray | None) -> None:
        """After a batch: count it, and add its G(d) (the batch mean, or None outside the
        window; :meth:`wants_probe`)."""
        self.batches_since += 1
        if probe is not None:
            self.probe += probe
            self.probe_batches += 1

    # ------------------------------------------------------------------ rewiring
    def due(self, batch_in_epoch: int, batches: int, epoch_end: bool) -> bool:
        if self.cfg.every_batches:
            return not epoch_end and self.batches_since % self.cfg.every_batches == 0
        return epoch_end

    def drop_fraction(self, progress: float) -> float:
        """RigL's alpha(t) at ``progress`` (0-1) of training; 0 for DEEP R's drop."""
        cfg = self.cfg
        if cfg.drop != "rigl" or progress >= cfg.drop_end:
            return 0.0
        return cfg.drop_fraction / 2 * (1 + np.cos(np.pi * progress / cfg.drop_end))

    def _to_drop(self, progress: float) -> np.ndarray:
        """Active slots to drop: those whose theta went <= 0, and under RigL's drop the
        weakest, up to alpha(t) of the active count."""
        dropped = self.active & (self.theta <= 0)
        count = int(round(self.drop_fraction(progress) * self.active.sum()))
        extra = count - int(dropped.sum())
        if extra > 0:
            live = np.flatnonzero(self.active & ~dropped)
            weakest = live[np.argsort(self.theta.ravel()[live], kind="stable")[:extra]]
            dropped.ravel()[weakest] = True
        return dropped

    def rewire(self, progress: float = 0.0) -> dict:
        """Drop slots (see the module), grow as many; return counts. ``progress`` (0-1)
        is how far training is, for RigL's drop schedule."""
        cfg = self.cfg
        dropped = self._to_drop(progress)
        k = int(dropped.sum())
        grown = []
        if k:
            self.active &= ~dropped
            self.theta[dropped] = np.minimum(self.theta[dropped], 0.0)   # RigL's drop too
            self._reset_state(dropped)
            scores = self._scores()
            allowed = ~self.active & ~dropped
            candidates = np.flatnonzero(allowed)
            if cfg.grow == "random":
                order = self.rng.permutation(candidates)
            else:
                order = candidates[np.argsort(scores.ravel()[candidates], kind="stable")]
            grown = _grow_into(self.active, order, k, cfg.fan_in, cfg.row_limit)
            if len(grown) < k:
                logger.warning("connection '%s': only %d of %d dropped synapses could be "
                               "regrown within the fan-in/row limits", self.name,
                               len(grown), k)
            self._init_grown(grown)
            self.upload()
        self.probe[...] = 0
        self.probe_batches = 0
        self.log = {"dropped": k, "grown": len(grown)}
        return self.log

    def _scores(self) -> np.ndarray:
        """s * G at the delay each slot would get (most negative = grown first)."""
        if not self.cfg.needs_probe:
            return np.zeros(self.active.shape)
        g = self.probe / max(self.probe_batches, 1)
        if self.cfg.regrow_delay == "gradient":
            per_delay = self.sign[None] * g
            self._best_delay = np.argmin(per_delay, axis=0)
            return per_delay.min(axis=0)
        if self.cfg.regrow_delay == "random":
            self._next_delay = self.rng.integers(0, self.max_delay, self.active.shape)
            d = self._next_delay
        else:
            d = np.clip(np.rint(self.delay), 0, self.max_delay - 1).astype(int)
        return self.sign * np.take_along_axis(g, d[None], axis=0)[0]

    def _init_grown(self, grown: list) -> None:
        if not grown:
            return
        i, j = np.array(grown).T
        self.theta[i, j] = self.cfg.theta_init
        mode = self.cfg.regrow_delay
        if mode == "gradient":
            self.delay[i, j] = self._best_delay[i, j]
        elif mode == "random":
            nxt = getattr(self, "_next_delay", None)
            self.delay[i, j] = nxt[i, j] if nxt is not None else \
                self.rng.integers(0, self.max_delay, len(i))
        self._reset_state((i, j))

    def _reset_state(self, where) -> None:
        for state in (self.theta_state, self.delay_state):
            if state:
                for key in ("m", "v"):
                    if key in state:
                        state[key][where] = 0.0

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict:
        out = {"active": self.active, "sign": self.sign, "theta": self.theta,
               "delay": self.delay,
               "counters": np.array([self.probe_batches, self.batches_since])}
        if self.probe_batches:     # all zeros right after a rewiring: not worth 2 MB
            out["probe"] = self.probe
        for prefix, st in (("theta_state", self.theta_state), ("delay_state", self.delay_state)):
            for key, value in (st or {}).items():
                out[f"{prefix}.{key}"] = np.asarray(value)
        return out

    def restore(self, state: dict) -> None:
        self.active = state["active"].astype(bool)
        self.sign, self.theta = state["sign"].copy(), state["theta"].copy()
        self.delay = state["delay"].copy()
        self.probe[...] = state["probe"] if "probe" in state else 0.0
        self.probe_batches, self.batches_since = (int(v) for v in state["counters"])
        for prefix, st in (("theta_state", self.theta_state), ("delay_state", self.delay_state)):
            for key in list(st or {}):
                value = state[f"{prefix}.{key}"]
                st[key] = value.copy() if value.ndim else value.item()
        self.upload()

    def metrics(self) -> dict:
        col = self.active.sum(axis=0)
        return {f"{self.name}_active": int(self.active.sum()),
                f"{self.name}_dropped": self.log["dropped"],
                f"{self.name}_grown": self.log["grown"],
                f"{self.name}_max_fan_in": int(col.max()) if col.size else 0}


def dormant_gradients(net, conn, n: int, max_delay: int, dense: bool | None = None) -> np.ndarray:
    """G[d, i, j] = dL/dw_ij of a zero-weight synapse i -> j with delay d, for this
    batch's ``n`` instances (mean over instances), from the input tape and the target's
    LambdaI trace (lambda_I at step m is the value the backward pass wrote at step m)::

        G[d, i, j] = -tau_s / n  sum_(b, k) x_b,i(k) lambda_I,b,j(k + 1 + d)

    Sparse inputs (spikes) go in one sparse-times-dense product: each event (b, k, i)
    becomes D entries of a [pre * D, instances * (T + D)] matrix, at row (i, d) and
    column (b, k + 1 + d), against lambda_I padded with D zero steps per instance (what
    would arrive after the trial adds nothing). Dense inputs (mel spectrograms) go as one
    matrix product per lag.
    """
    from scipy import sparse
    rt = net.runtime
    src, tgt = conn.source.name, conn.target.name
    T = net.compiler.example_timesteps
    num_pre = net.model.neuron_populations[src].size
    inst, step, ids, values = tape_events(net, src, n)
    rt.pull(handles.trace_name(tgt, handles.LAMBDA_I))
    lam = rt.trace(tgt, handles.LAMBDA_I)[:n]                                 # [n, T, N]
    num_post = lam.shape[-1]
    scale = -conn.synapse.tau / n
    if dense is None:
        dense = len(ids) > 0.25 * n * T * num_pre
    if not dense:
        D, lags = max_delay, np.arange(max_delay)
        padded = np.zeros((n, T + D, num_post), lam.dtype)
        padded[:, :T] = lam
        rows = (ids[:, None] * D + lags).ravel()
        cols = ((inst * (T + D) + step)[:, None] + 1 + lags).ravel()
        spread = sparse.csr_matrix((np.repeat(values, D), (rows, cols)),
                                   shape=(num_pre * D, n * (T + D)))
        out = spread @ padded.reshape(-1, num_post)                          # [pre*D, N]
        return scale * out.reshape(num_pre, D, num_post).transpose(1, 0, 2)
    out = np.zeros((max_delay, num_pre, num_post))
    x = np.zeros((n, T, num_pre), lam.dtype)
    x[inst, step, ids] = values
    for d in range(min(max_delay, T - 1)):
        lag = d + 1
        xs = x[:, :T - lag].reshape(-1, num_pre)
        ls = lam[:, lag:].reshape(-1, num_post)
        out[d] = scale * (xs.T @ ls)
    return out


def tape_events(net, pop: str, n: int):
    """The events population ``pop`` emitted in the last forward pass, from its tape:
    arrays (instance, step, neuron id, value; 1 for spikes)."""
    rt = net.runtime
    T = net.compiler.example_timesteps
    x = handles.GRADED_VALUE
    has_x = rt.tape_values(pop, x) is not None
    rt.pull(handles.tape_id_name(pop), handles.tape_start_name(pop),
            *([handles.tape_value_name(pop, x)] if has_x else []))
    starts = rt.tape_starts(pop)[:n].astype(np.int64)                       # [n, T + 1]
    counts = starts[:, -1]
    inst = np.repeat(np.arange(n), counts)
    step = np.concatenate([np.repeat(np.arange(T), np.diff(starts[b])) for b in range(n)]) \
        if n else np.zeros(0, np.int64)
    within = np.arange(len(inst)) - np.repeat(np.cumsum(counts) - counts, counts)
    ids = rt.tape_ids(pop)[inst, within].astype(np.int64)
    values = rt.tape_values(pop, x)[inst, within].astype(np.float64) if has_x \
        else np.ones(len(inst))
    return inst, step, ids, values
