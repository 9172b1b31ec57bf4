"""Spatio-temporal receptive fields of output neurons (Mészáros et al. 2024, section 3).

For an input -> hidden -> output network, hidden neuron ``h`` has a panel with input channels
as rows and delay steps as columns, holding ``sign(w_ih)`` at ``(i, d_ih)`` for each synapse
``i -> h`` (zero elsewhere). The receptive field of output ``o`` sums these panels weighted by
``w_ho`` and shifted later in time by the hidden -> output delay ``d_ho``::

    RF_o[i, t] = sum over synapse pairs (i -> h, h -> o) with d_ih + d_ho = t of
                 sign(w_ih) * w_ho

so ``RF_o`` has ``C`` rows and ``D_ih + D_ho - 1`` columns (``D``: ring sizes, delays
``0 .. D - 1``). Several synapses landing on one cell add up.

Implementation: the signed panels form one sparse matrix ``P[(i, d_ih), h]``; for every
distinct hidden -> output delay ``e`` the dense product ``P @ W_e`` (``W_e[h, o]``: weights of
delay ``e``) is added at column offset ``e``. Memory stays O(C * D_ih * O).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike, NDArray

from delayprop.errors import ConfigError, DataError
from delayprop.graph import NetworkGraph

__all__ = ["receptive_field", "receptive_fields_from_graph"]


@dataclass(frozen=True)
class _Synapses:
    """Synapses of one layer as parallel arrays (pre, post, weight, delay in steps)."""
    pre: NDArray[np.int64]
    post: NDArray[np.int64]
    weight: NDArray[np.float64]
    delay: NDArray[np.int64]


def _fields(first: _Synapses, second: _Synapses, n_in: int, n_hidden: int, n_out: int,
            d_first: int, d_second: int) -> NDArray[np.float64]:
    """Receptive fields ``[n_out, n_in, d_first + d_second - 1]`` of two synapse layers."""
    rows = first.pre * d_first + first.delay
    panels = scipy.sparse.csr_matrix(
        (np.sign(first.weight), (rows, first.post)), shape=(n_in * d_first, n_hidden))
    fields = np.zeros((n_out, n_in, d_first + d_second - 1))
    for shift in np.unique(second.delay):
        sel = second.delay == shift
        weights = np.zeros((n_hidden, n_out))
        np.add.at(weights, (second.pre[sel], second.post[sel]), second.weight[sel])
        part = np.asarray(panels @ weights).reshape(n_in, d_first, n_out)
        fields[:, :, shift:shift + d_first] += part.transpose(2, 0, 1)
    return fields


def _whole_steps(delay: NDArray, present: NDArray[np.bool_], name: str) -> NDArray[np.int64]:
    """Delays of present synapses as integers; they must be whole numbers >= 0."""
    values = np.asarray(delay, dtype=np.float64)[present]
    if not np.all(np.isfinite(values)):
        raise ConfigError(f"{name}: delays of existing synapses must be finite, got "
                          f"{int(np.sum(~np.isfinite(values)))} nan/inf values")
    rounded = np.rint(values)
    if np.any(np.abs(values - rounded) > 1e-9):
        bad = values[np.abs(values - rounded) > 1e-9][0]
        raise ConfigError(f"{name}: delays must be whole steps, got {float(bad):g}; round learned "
                          f"delays with np.rint as the forward pass does")
    if rounded.size and rounded.min() < 0:
        raise ConfigError(f"{name}: delays must be >= 0 steps, got {rounded.min():g}")
    return rounded.astype(np.int64)


def _dense_layer(weight: ArrayLike, delay: ArrayLike | None, mask: ArrayLike | None,
                 name: str) -> _Synapses:
    """Synapse lists of a dense [pre, post] layer; absent where masked out or weight 0."""
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 2:
        raise ConfigError(f"{name}: weights must be a 2-D [pre, post] array, got shape "
                          f"{w.shape}")
    d = np.zeros(w.shape) if delay is None else np.asarray(delay)
    present = np.ones(w.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    for label, arr in (("delays", d), ("mask", present)):
        if arr.shape != w.shape:
            raise ConfigError(f"{name}: {label} have shape {arr.shape}, weights {w.shape}; "
                              f"they must match")
    present = present & (w != 0)
    if not np.all(np.isfinite(w[present])):
        raise ConfigError(f"{name}: weights of existing synapses must be finite")
    pre, post = np.nonzero(present)
    return _Synapses(pre, post, w[present], _whole_steps(d, present, name))


def _ring_size(syn: _Synapses, max_delay: int | None, name: str) -> int:
    """Ring size D: ``max_delay`` if given (checked), else the largest delay + 1."""
    needed = int(syn.delay.max()) + 1 if syn.delay.size else 1
    if max_delay is None:
        return needed
    if int(max_delay) != max_delay or max_delay < needed:
        raise ConfigError(f"{name}: max_delay must be a whole number >= {needed} (the largest "
                          f"delay + 1), got {max_delay!r}")
    return int(max_delay)


def receptive_field(w_ih: ArrayLike, d_ih: ArrayLike, w_ho: ArrayLike,
                    d_ho: ArrayLike | None, output: int | None, *,
                    mask_ih: ArrayLike | None = None, mask_ho: ArrayLike | None = None,
                    max_delay_ih: int | None = None,
                    max_delay_ho: int | None = None) -> NDArray[np.float64]:
    """Spatio-temporal receptive field of an output neuron from dense weight matrices.

    Parameters
    ----------
    w_ih : array_like, shape (C, H)
        Input -> hidden weights. A zero weight (or ``mask_ih`` False) means no synapse.
    d_ih : array_like, shape (C, H)
        Input -> hidden delays in whole steps (integers, or floats holding whole numbers).
    w_ho : array_like, shape (H, O)
        Hidden -> output weights; zero (or ``mask_ho`` False) means no synapse.
    d_ho : array_like, shape (H, O), or None
        Hidden -> output delays in whole steps; None means all 0.
    output : int or None
        Index of the output neuron; None returns every output's field.
    mask_ih, mask_ho : array_like of bool, optional
        Which synapses exist (for sparse layers stored densely).
    max_delay_ih, max_delay_ho : int, optional
        Ring sizes D (delays 0 .. D - 1), which fix the map width; by default the largest
        delay present + 1.

    Returns
    -------
    ndarray, shape (C, D_ih + D_ho - 1), or (O, C, D_ih + D_ho - 1) when ``output`` is None
        ``RF[i, t] = sum sign(w_ih) * w_ho`` over paths ``i -> h -> output`` with
        ``d_ih + d_ho = t`` (module docstring).

    Raises
    ------
    ConfigError
        Shapes that do not fit together, delays that are negative, not whole or not below
        ``max_delay_*``, non-finite weights, or ``output`` out of range.

    Examples
    --------
    >>> receptive_field([[2.0], [-1.0]], [[1], [0]], [[0.5]], [[1]], 0)
    array([[ 0. ,  0. ,  0.5],
           [ 0. , -0.5,  0. ]])
    """
    first = _dense_layer(w_ih, d_ih, mask_ih, "input->hidden")
    second = _dense_layer(w_ho, d_ho, mask_ho, "hidden->output")
    n_in, n_hidden = np.shape(w_ih)
    if np.shape(w_ho)[0] != n_hidden:
        raise ConfigError(f"w_ho has {np.shape(w_ho)[0]} rows but w_ih has {n_hidden} "
                          f"columns (hidden neurons); they must match")
    n_out = np.shape(w_ho)[1]
    if output is not None and not (int(output) == output and 0 <= output < n_out):
        raise ConfigError(f"output must be an index in [0, {n_out}), got {output!r}")
    fields = _fields(first, second, n_in, n_hidden, n_out,
                     _ring_size(first, max_delay_ih, "input->hidden"),
                     _ring_size(second, max_delay_ho, "hidden->output"))
    return fields if output is None else fields[int(output)]


def _graph_layer(graph: NetworkGraph, source: str, target: str) -> tuple[_Synapses, int]:
    """All synapses from ``source`` to ``target`` (every projection) and the largest ring D."""
    projections = [p for p in graph.outgoing(source) if p.target == target]
    if not projections:
        known = sorted(f"{p.source}->{p.target}" for p in graph.projections)
        raise DataError(f"the network has no projection from '{source}' to '{target}'; it "
                        f"has {known}. Name the populations with input=/hidden=/output= "
                        f"(CLI: --input/--hidden/--output)")
    syn = _Synapses(*(np.concatenate([getattr(p, key) for p in projections])
                      for key in ("pre", "post", "weight", "delay")))
    if not np.any(syn.weight != 0):
        raise DataError(f"projection(s) {[p.name for p in projections]} from '{source}' to "
                        f"'{target}' hold no synapses with non-zero weight, so the receptive "
                        f"field is empty")
    return syn, max(p.max_delay for p in projections)


def receptive_fields_from_graph(graph: NetworkGraph, input: str = "input",
                                hidden: str = "hidden",
                                output: str = "output") -> NDArray[np.float64]:
    """Receptive fields of every output neuron of a :class:`~delayprop.graph.NetworkGraph`.

    Parameters
    ----------
    graph : NetworkGraph
        A network with projections ``input -> hidden`` and ``hidden -> output``. Other
        projections (recurrent, input -> output) are ignored. Several projections between
        the same two populations are pooled.
    input, hidden, output : str
        Population names.

    Returns
    -------
    ndarray, shape (O, C, D_ih + D_ho - 1)
        One map per output neuron; ``D_ih``, ``D_ho`` are the projections' ``max_delay``
        (the largest, if several projections connect the same populations).

    Raises
    ------
    DataError
        A population is missing, no projection connects the two populations, or all its
        weights are zero.
    """
    sizes = {p.name: p.size for p in graph.populations}
    for role, name in (("input", input), ("hidden", hidden), ("output", output)):
        if name not in sizes:
            raise DataError(f"the network has no {role} population '{name}'; its populations "
                            f"are {sorted(sizes)}")
    first, d_first = _graph_layer(graph, input, hidden)
    second, d_second = _graph_layer(graph, hidden, output)
    return _fields(first, second, sizes[input], sizes[hidden], sizes[output],
                   d_first, d_second)
