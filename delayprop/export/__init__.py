"""Constrained export of trained connectivity to neuromorphic targets.

Hardware profiles (:mod:`~delayprop.export.profile`), checks and fitting
(:func:`check`, :func:`constrain`), writers for PyNN (lists + runnable script), NIR and
plain NPZ/JSON, validation by re-simulation in Brian2 (:func:`validate_export`), runs of
the PyNN script in NEST (:func:`validate_in_pynn`) and sPyNNaker's mapping on a virtual
board (:func:`map_on_virtual_board`), and the ``delayprop export`` command. The delay
mapping, quantisation rule and per-backend time conventions are in README.md.
"""
from delayprop.export.check import CheckReport, Violation, check
from delayprop.export.constrain import ConstrainReport, Constrained, constrain
from delayprop.export.nir_io import from_nir, read_nir, to_nir, write_nir
from delayprop.export.plain import read_plain, write_plain
from delayprop.export.profile import (PROFILES, HardwareProfile, get_profile, load_profile,
                                      profile_from_dict)
from delayprop.export.pynn import read_pynn, write_pynn
from delayprop.export.pynn_run import run_pynn_export, validate_in_pynn
from delayprop.export.spinnaker_map import map_on_virtual_board
from delayprop.export.quantise import Quantised, ScaleGroup, quantise
from delayprop.export.targets import TARGETS, ExportResult, export, load_export_data
from delayprop.export.validate import ValidationReport, validate_export

__all__ = [
    "HardwareProfile", "PROFILES", "get_profile", "load_profile", "profile_from_dict",
    "check", "CheckReport", "Violation", "constrain", "Constrained", "ConstrainReport",
    "quantise", "Quantised", "ScaleGroup", "write_pynn", "read_pynn", "to_nir", "from_nir",
    "write_nir", "read_nir", "write_plain", "read_plain", "validate_export",
    "ValidationReport", "export", "ExportResult", "TARGETS", "load_export_data",
    "run_pynn_export", "validate_in_pynn", "map_on_virtual_board",
]
