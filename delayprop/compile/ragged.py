"""GeNN's ragged SPARSE layout, built from (pre, post) lists.

::

    row_length[pre]                   number of synapses of presynaptic neuron ``pre``
    ind[pre * max_row_length + s]     postsynaptic index of its s-th synapse (s < row_length)
    var[pre * max_row_length + s]     one array per synapse variable, same layout

Rows are sorted by postsynaptic index, so a synapse's position in *synapse order* (the
user's lists sorted by (pre, post), stable) is fixed and ``gather``/``scatter`` move values
between that order and the ragged arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from delayprop.errors import ConfigError

__all__ = ["Ragged"]


@dataclass(frozen=True, eq=False)
class Ragged:
    pre: np.ndarray            # synapse order: sorted by (pre, post)
    post: np.ndarray
    order: np.ndarray          # user list position of each synapse in synapse order
    row_length: np.ndarray     # uint32 [num_pre]
    max_row_length: int
    slots: np.ndarray          # ragged position (pre * max_row_length + s) of each synapse

    @classmethod
    def from_lists(cls, pre, post, num_pre: int, num_post: int, group: str,
                   max_row_length: int | None = None) -> "Ragged":
        pre = np.asarray(pre).ravel()
        post = np.asarray(post).ravel()
        if pre.shape != post.shape:
            raise ConfigError(f"synapse group '{group}': {len(pre)} presynaptic but "
                              f"{len(post)} postsynaptic indices")
        for name, idx, n in (("presynaptic", pre, num_pre), ("postsynaptic", post, num_post)):
            if idx.size and not np.issubdtype(idx.dtype, np.integer):
                if not np.all(np.mod(idx, 1) == 0):
                    raise ConfigError(f"synapse group '{group}': {name} indices must be "
                                      f"whole numbers")
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise ConfigError(f"synapse group '{group}': {name} index out of range: got "
                                  f"[{idx.min()}, {idx.max()}], population has {n} neurons")
        pre = pre.astype(np.int64)
        post = post.astype(np.int64)
        order = np.lexsort((post, pre))
        pre_s, post_s = pre[order], post[order]
        row_length = np.bincount(pre_s, minlength=num_pre).astype(np.uint32)
        longest = int(row_length.max()) if row_length.size else 0
        if max_row_length is None:
            max_row_length = max(longest, 1)
        elif max_row_length < longest:
            raise ConfigError(f"synapse group '{group}': a row has {longest} synapses, more "
                              f"than max_row_length {max_row_length}")
        starts = np.concatenate(([0], np.cumsum(row_length)[:-1])).astype(np.int64)
        within = np.arange(len(pre_s)) - np.repeat(starts, row_length)
        slots = pre_s * max_row_length + within
        return cls(pre_s, post_s, order, row_length, int(max_row_length), slots)

    @property
    def num_synapses(self) -> int:
        return len(self.pre)

    def ind(self, num_pre: int) -> np.ndarray:
        out = np.zeros(num_pre * self.max_row_length, dtype=np.uint32)
        out[self.slots] = self.post
        return out

    def scatter(self, values, num_pre: int, dtype, what: str) -> np.ndarray:
        """Values in the user's list order (or a scalar) -> a ragged array."""
        values = np.asarray(values)
        out = np.zeros(num_pre * self.max_row_length, dtype=dtype)
        if values.ndim == 0:
            out[self.slots] = values
        elif values.shape == (self.num_synapses,):
            out[self.slots] = values[self.order]
        else:
            raise ConfigError(f"{what}: got {values.size} values (shape {values.shape}) for "
                              f"{self.num_synapses} synapses; give one per synapse, in the "
                              f"order of the connection lists, or a scalar")
        return out

    def gather(self, ragged: np.ndarray) -> np.ndarray:
        """A ragged array (any leading axes) -> values in synapse order."""
        return ragged[..., self.slots]
