"""What a trained network learned: receptive fields, Moran's I, group comparisons, plots.

Definitions follow Mészáros, Knight & Nowotny (2024), section 3; see README.md in this
folder for the formulas and the ``delayprop analyse`` command.
"""
from delayprop.analysis._compare import MoransComparison, compare_morans
from delayprop.analysis._morans import max_morans_i, morans_i
from delayprop.analysis._plots import plot_morans_distributions, plot_receptive_fields
from delayprop.analysis._receptive import receptive_field, receptive_fields_from_graph
from delayprop.analysis._runs import Populations, analyse_runs

__all__ = [
    "receptive_field", "receptive_fields_from_graph", "morans_i", "max_morans_i",
    "MoransComparison", "compare_morans", "plot_receptive_fields",
    "plot_morans_distributions", "Populations", "analyse_runs",
]
