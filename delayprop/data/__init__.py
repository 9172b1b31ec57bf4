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

from delayprop._lazy import lazy_exports

# public name -> (module, attribute), imported on first use
_LAZY = {
    'RawHDConfig': ('delayprop.data._config', 'RawHDConfig'),
    'sigma_delta_spikes': ('delayprop.data._encode', 'sigma_delta_spikes'),
    'fetch': ('delayprop.data._fetch', 'fetch'),
    'HD_CLASS_NAMES': ('delayprop.data._hd_files', 'CLASS_NAMES'),
    'parse_label': ('delayprop.data._hd_files', 'parse_label'),
    'DATASETS': ('delayprop.data._load', 'DATASETS'),
    'load_dataset': ('delayprop.data._load', 'load_dataset'),
    'cache_root': ('delayprop.data._paths', 'cache_root'),
    'data_root': ('delayprop.data._paths', 'data_root'),
    'plot_sample': ('delayprop.data._plot', 'plot_sample'),
    'RawHD': ('delayprop.data._rawhd', 'RawHD'),
    'SpikingHD': ('delayprop.data._spiking', 'SpikingHD'),
    'bin_events': ('delayprop.data._spiking', 'bin_events'),
    'SPIKE_DTYPE': ('delayprop.data._split', 'SPIKE_DTYPE'),
    'Split': ('delayprop.data._split', 'Split'),
}


__all__ = ["DATASETS", "HD_CLASS_NAMES", "SPIKE_DTYPE", "RawHD", "RawHDConfig", "SpikingHD",
           "Split", "bin_events", "cache_root", "data_root", "fetch", "load_dataset",
           "parse_label", "plot_sample", "sigma_delta_spikes"]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
