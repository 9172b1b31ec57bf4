"""The numerical guard: every batch's loss, gradients, weights, delays and optimiser state
are checked for NaN and inf before training goes on.

One reduction per array (``np.isfinite(a).all()``: about 0.1-0.2 % of a RawHD-sized
epoch, 40 -> 256 -> 20, batch 32, on the CPU backend). On the first non-finite value the
guard either stops the run with a :class:`~delayprop.errors.NonFiniteError` naming the epoch, batch and array
(``on_nan='stop'``, the default), or puts the parameters and optimiser state back as they
were before the batch and goes on (``'skip-batch'``; the count is reported per epoch as
``skipped_batches``). Arrays are checked in causal order (loss, gradients, then what the
optimiser step wrote), so the one named is where the blow-up began.
"""
from __future__ import annotations

import logging

import numpy as np

from delayprop.compile import handles
from delayprop.errors import ConfigError, NonFiniteError

__all__ = ["FiniteGuard", "ON_NAN", "non_finite_array"]

logger = logging.getLogger(__name__)

ON_NAN = ("stop", "skip-batch")


def _finite(a) -> bool:
    a = np.asarray(a)
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def _arrays(net, loss):
    """(description, array) of everything a batch reads or writes, in causal order."""
    rt = net.runtime
    yield "the loss", loss
    for conn in net.network.connections:
        c = conn.name
        yield f"the weight gradients of '{c}'", rt.gradient(c)
        if c in net.learned_delays:
            yield f"the delay gradients of '{c}'", rt.delay_gradient(c)
    for conn in net.network.connections:
        c = conn.name
        yield f"the weights of '{c}'", net.param(c, handles.WEIGHT)
        if c in net.delays:
            yield f"the delays of '{c}'", net.delays[c]
    for key, state in net.opt_state.items():
        conn, kind = key.rsplit(".", 1)
        what = "weights" if kind == handles.WEIGHT else "delays"
        for name, value in state.items():
            yield f"the optimiser state '{name}' of the {what} of '{conn}'", value
    for c, rewired in net.rewired.items():
        for name, value in rewired.state().items():
            yield f"the rewiring state '{name}' of '{c}'", value


def non_finite_array(net, loss) -> str | None:
    """The description of the first array holding NaN or inf, or None when all are
    finite."""
    for what, array in _arrays(net, loss):
        if not _finite(array):
            return what
    return None


def _hint(what: str) -> str:
    return ("lower the learning rates (--lr, --delay-lr) or the initial weight scale "
            "(--weight-sd, --out-weight-sd); --on-nan skip-batch drops such batches instead")


class FiniteGuard:
    """Checks a network after each training batch (see the module)."""

    def __init__(self, on_nan: str = "stop"):
        if on_nan not in ON_NAN:
            raise ConfigError(f"on_nan must be one of {ON_NAN}, got {on_nan!r}")
        self.skip = on_nan == "skip-batch"
        self.skipped = 0                 # batches dropped in this epoch
        self._saved = None

    def before_batch(self, net) -> None:
        if self.skip:
            self._saved = _snapshot(net)

    def after_batch(self, net, loss, epoch: int, batch: int, batches: int) -> bool:
        """True when the batch left everything finite; False when it was dropped."""
        what = non_finite_array(net, loss)
        if what is None:
            return True
        where = f"epoch {epoch}, batch {batch} of {batches}"
        if not self.skip:
            raise NonFiniteError(f"{what} became NaN or infinite in {where}; {_hint(what)}")
        _restore(net, self._saved)
        self.skipped += 1
        logger.warning("%s became NaN or infinite in %s; the batch is dropped", what, where)
        return False


def _snapshot(net) -> dict:
    return {
        "g": {c.name: net.param(c.name, handles.WEIGHT).copy()
              for c in net.network.connections if c.name not in net.rewired},
        "d": {c: d.copy() for c, d in net.delays.items() if c not in net.rewired},
        "opt": {k: {n: v.copy() if isinstance(v, np.ndarray) else v for n, v in s.items()}
                for k, s in net.opt_state.items()},
        "rewired": {c: {k: np.array(v, copy=True) for k, v in rw.state().items()}
                    for c, rw in net.rewired.items()},
    }


def _restore(net, saved: dict) -> None:
    for c, g in saved["g"].items():
        net.param(c, handles.WEIGHT)[...] = g
        net.runtime.push(handles.var_name(c, handles.WEIGHT))
    for c, d in saved["d"].items():
        net.delays[c][...] = d
        net.upload_delays(c)
    for key, state in saved["opt"].items():
        net.opt_state[key] = {n: v.copy() if isinstance(v, np.ndarray) else v
                              for n, v in state.items()}
    for c, state in saved["rewired"].items():
        net.rewired[c].restore(state)
