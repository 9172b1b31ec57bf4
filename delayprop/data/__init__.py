"""Data sets behind one interface: RawHD and your own audio folders (audio → graded log-mel
inputs), SHD and SSC (spikes).

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
    'AudioFolder': ('delayprop.data._folder', 'AudioFolder'),
    'GRADED_DATASETS': ('delayprop.data._options', 'GRADED_DATASETS'),
    'add_data_options': ('delayprop.data._options', 'add_data_options'),
    'data_options_from_args': ('delayprop.data._options', 'data_options_from_args'),
    'check_data_options': ('delayprop.data._options', 'check_data_options'),
    'data_record': ('delayprop.data._record', 'data_record'),
    'audio_features': ('delayprop.data._audio_features', 'audio_features'),
    'read_audio': ('delayprop.data._audio', 'read_audio'),
    'log_mel': ('delayprop.data._features', 'log_mel'),
    'mel_filterbank': ('delayprop.data._features', 'mel_filterbank'),
    'power_spectrogram': ('delayprop.data._features', 'power_spectrogram'),
    'fit_normaliser': ('delayprop.data._features', 'fit_normaliser'),
    'apply_normaliser': ('delayprop.data._features', 'apply_normaliser'),
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


__all__ = ["DATASETS", "GRADED_DATASETS", "HD_CLASS_NAMES", "SPIKE_DTYPE", "AudioFolder", "RawHD",
           "RawHDConfig", "SpikingHD", "Split", "add_data_options", "apply_normaliser",
           "audio_features", "bin_events", "cache_root", "check_data_options",
           "data_options_from_args", "data_record", "data_root", "fetch",
           "fit_normaliser", "load_dataset", "log_mel", "mel_filterbank", "parse_label",
           "plot_sample", "power_spectrogram", "read_audio", "sigma_delta_spikes"]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
