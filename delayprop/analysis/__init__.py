"""What a trained network learned: receptive fields, Moran's I, group comparisons, plots.

Definitions follow Mészáros, Knight & Nowotny (2024), section 3; see README.md in this
folder for the formulas and the ``delayprop analyse`` command.
"""

import importlib

# Public names, imported on first use: keeps `import delayprop.<package>` (and the
# command line, which imports every package) free of matplotlib/scipy start-up costs.
_LAZY = {
    'MoransComparison': ('delayprop.analysis._compare', 'MoransComparison'),
    'compare_morans': ('delayprop.analysis._compare', 'compare_morans'),
    'max_morans_i': ('delayprop.analysis._morans', 'max_morans_i'),
    'morans_i': ('delayprop.analysis._morans', 'morans_i'),
    'plot_morans_distributions': ('delayprop.analysis._plots', 'plot_morans_distributions'),
    'plot_receptive_fields': ('delayprop.analysis._plots', 'plot_receptive_fields'),
    'receptive_field': ('delayprop.analysis._receptive', 'receptive_field'),
    'receptive_fields_from_graph': ('delayprop.analysis._receptive', 'receptive_fields_from_graph'),
    'Populations': ('delayprop.analysis._runs', 'Populations'),
    'analyse_runs': ('delayprop.analysis._runs', 'analyse_runs'),
}


__all__ = [
    "receptive_field", "receptive_fields_from_graph", "morans_i", "max_morans_i",
    "MoransComparison", "compare_morans", "plot_receptive_fields",
    "plot_morans_distributions", "Populations", "analyse_runs",
]


def __getattr__(name):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
