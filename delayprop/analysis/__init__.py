"""What a trained network learned: receptive fields, Moran's I, group comparisons, plots.

Definitions follow Mészáros, Knight & Nowotny (2024), section 3; see README.md in this
folder for the formulas and the ``delayprop analyse`` command.
"""

from delayprop._lazy import lazy_exports

# public name -> (module, attribute), imported on first use
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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
