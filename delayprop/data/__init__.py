"""Data sets behind one interface: RawHD (audio → graded log-mel inputs), SHD and SSC (spikes).

Every loader returns a :class:`Split`: ``x`` (dense ``[samples, steps, channels]`` or one
spike array per sample with fields ``t`` in ms and ``x`` the channel), ``y`` (int64
labels), ``num_channels``, ``num_steps``, ``num_classes``, ``class_names``, ``dt``, ``name``.

>>> from delayprop.data import load_dataset
>>> train = load_dataset("rawhd", "train")        # doctest: +SKIP
>>> train.x.shape                                 # doctest: +SKIP
(8150, 80, 40)

Where the data comes from and how to point at it: ``delayprop/data/README.md``.
"""
from delayprop.data._config import RawHDConfig
from delayprop.data._encode import sigma_delta_spikes
from delayprop.data._fetch import fetch
from delayprop.data._hd_files import CLASS_NAMES as HD_CLASS_NAMES
from delayprop.data._hd_files import parse_label
from delayprop.data._load import DATASETS, load_dataset
from delayprop.data._paths import cache_root, data_root
from delayprop.data._plot import plot_sample
from delayprop.data._rawhd import RawHD
from delayprop.data._spiking import SpikingHD, bin_events
from delayprop.data._split import SPIKE_DTYPE, Split

__all__ = ["DATASETS", "HD_CLASS_NAMES", "SPIKE_DTYPE", "RawHD", "RawHDConfig", "SpikingHD",
           "Split", "bin_events", "cache_root", "data_root", "fetch", "load_dataset",
           "parse_label", "plot_sample", "sigma_delta_spikes"]
