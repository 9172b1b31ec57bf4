"""``delayprop analyse``: receptive fields, Moran's I and Mann-Whitney U tests of runs."""
from __future__ import annotations

import argparse
import shlex

from delayprop.errors import ConfigError

# file names of a run directory (delayprop.analysis._runs holds the same; that module pulls
# in matplotlib and scipy.stats, so the command line imports it only when it runs)
INITIAL_GRAPH = "graph_initial.npz"
FINAL_GRAPH = "graph_final.npz"

__all__ = ["register"]

_DESCRIPTION = f"""\
Spatio-temporal receptive fields of the output neurons, their Moran's I (Queen's case,
maximum over random permutations of the input-channel rows) and Mann-Whitney U tests.

Each RUN is a directory holding {INITIAL_GRAPH} (the network before training) and
{FINAL_GRAPH} (after), written by delayprop.graph.save_graph.

Two modes:
  delayprop analyse RUN [RUN ...] --out DIR
      trained (final graphs) vs untrained (initial graphs), pooled over the runs;
      U is that of the trained group.
  delayprop analyse --group NAME RUN [RUN ...] --group NAME RUN [RUN ...] --out DIR
      named groups of trained runs (final graphs; initial graphs are optional and only
      drawn), e.g. --group fixed runs/fixed_* --group learned runs/learned_*;
      every pair of groups is compared, U is that of the group named first.

Writes to DIR: receptive_fields_<run>.png (receptive_fields_<group>_<run>.png with
--group), morans_i.png, morans_i.csv (one row per output neuron and graph) and
morans_i.json (settings, values, means, U and p)."""


def _command(args: argparse.Namespace) -> str:
    """The canonical command line of ``args`` (recorded in the JSON report)."""
    words = ["delayprop", "analyse", *args.runs]
    for group in args.group or []:
        words += ["--group", *group]
    words += ["--out", args.out, "--permutations", str(args.permutations), "--seed",
              str(args.seed), "--input-pop", args.input_pop, "--hidden-pop",
              args.hidden_pop, "--output-pop", args.output_pop, "--alternative",
              args.alternative]
    return shlex.join(words)


def _groups(args: argparse.Namespace) -> list[tuple[str, list[str]]] | None:
    if not args.group:
        return None
    short = [g[0] for g in args.group if len(g) < 2]
    if short:
        raise ConfigError(f"--group {short[0]} names no run directories; write --group NAME "
                          f"RUN [RUN ...]")
    return [(g[0], g[1:]) for g in args.group]


def _handle(args: argparse.Namespace) -> int:
    groups = _groups(args)
    if groups is not None and args.runs:
        raise ConfigError(f"give run directories either positionally (trained vs untrained) "
                          f"or with --group, not both; got positional {args.runs}")
    from delayprop.analysis._runs import Populations, analyse_runs
    analyse_runs(None if groups is not None else args.runs, args.out, groups=groups,
                 n_permutations=args.permutations, seed=args.seed,
                 populations=Populations(args.input_pop, args.hidden_pop, args.output_pop),
                 alternative=args.alternative, progress=not getattr(args, "quiet", False),
                 command=_command(args))
    return 0


def register(subparsers) -> None:
    """Add the ``analyse`` command to ``delayprop``'s subparsers."""
    parser = subparsers.add_parser(
        "analyse", help="receptive fields, Moran's I and U tests of trained runs",
        description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", metavar="RUN",
                        help="run directories (trained vs untrained mode)")
    parser.add_argument("--group", nargs="+", action="append", metavar=("NAME", "RUN"),
                        help="a named group of run directories; repeat for each group")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder, e.g. results/analysis_dense (created)")
    parser.add_argument("--permutations", type=int, default=2000, metavar="N",
                        help="random row permutations for the maximum Moran's I; 0 scores "
                             "the maps as they are (default: 2000)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the row permutations (default: 0)")
    parser.add_argument("--alternative", choices=("two-sided", "less", "greater"),
                        default="two-sided", help="alternative of the U tests, about the "
                        "first group (default: two-sided)")
    parser.add_argument("--input-pop", default="input", metavar="NAME",
                        help="input population name (default: input)")
    parser.add_argument("--hidden-pop", default="hidden", metavar="NAME",
                        help="hidden population name (default: hidden)")
    parser.add_argument("--output-pop", default="output", metavar="NAME",
                        help="output population name (default: output)")
    parser.set_defaults(handler=_handle)
