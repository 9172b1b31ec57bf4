"""``delayprop data fetch | prepare | show``."""
from __future__ import annotations

import argparse
import logging

from delayprop.data._config import NORMALISATIONS, TIME_MODES, RawHDConfig
from delayprop.data._fetch import ARCHIVES, URL_ENV, fetch
from delayprop.data._hd_files import SPLITS, locate_hd_audio
from delayprop.data._load import DATASETS, load_dataset

__all__ = ["register"]

logger = logging.getLogger(__name__)

_PATH_HELP = "data folder (default: $DELAYPROP_DATA, else the per-user data folder)"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``data`` and its actions to the ``delayprop`` command line."""
    parser = subparsers.add_parser(
        "data", help="fetch, prepare and inspect the data sets (RawHD, SHD, SSC)",
        description="Fetch the authors' archives, build the RawHD feature cache, plot a "
                    "sample. See delayprop/data/README.md for where data lives.")
    actions = parser.add_subparsers(dest="data_action", metavar="ACTION")
    actions.required = True

    sub = actions.add_parser("fetch", help="download, verify (MD5) and unpack a data set",
                             description="Download with resume, verify and unpack. Offline: "
                             "copy the archives into the data folder and run this again.")
    sub.add_argument("dataset", choices=tuple(ARCHIVES))
    sub.add_argument("--path", help=_PATH_HELP)
    sub.add_argument("--base-url", help=f"where the archives are (default: ${URL_ENV}, else "
                     "https://zenkelab.org/datasets/)")
    sub.add_argument("--force", action="store_true", help="fetch again even if present")
    sub.add_argument("--keep-archives", action="store_true",
                     help="keep the .gz files after unpacking")
    sub.set_defaults(handler=_fetch)

    sub = actions.add_parser("prepare", help="build the RawHD feature cache (progress bar)")
    sub.add_argument("dataset", choices=("rawhd",))
    sub.add_argument("--path", help=_PATH_HELP)
    sub.add_argument("--cache-dir", help="cache folder (default: $DELAYPROP_CACHE/data, else "
                     "the per-user cache folder)")
    sub.add_argument("--workers", type=int, help="processes (default: the CPU cores)")
    sub.add_argument("--time-mode", choices=TIME_MODES, default="crop_pad")
    sub.set_defaults(handler=_prepare)

    sub = actions.add_parser("show", help="save a plot of one sample with its label")
    sub.add_argument("dataset", choices=DATASETS)
    sub.add_argument("--index", type=int, required=True, help="sample index")
    sub.add_argument("--split", default="train", help="train, test (SSC: also valid)")
    sub.add_argument("--path", help=_PATH_HELP)
    sub.add_argument("--cache-dir", help="RawHD feature cache folder")
    sub.add_argument("--normalisation", choices=NORMALISATIONS, default="unit",
                     help="RawHD normalisation (default: unit)")
    sub.add_argument("--out", help="image file (default: <dataset>_<split>_<index>.png)")
    sub.set_defaults(handler=_show)


def _progress(args: argparse.Namespace) -> bool | None:
    return False if getattr(args, "quiet", False) else None


def _fetch(args: argparse.Namespace) -> int:
    paths = fetch(args.dataset, args.path, base_url=args.base_url, force=args.force,
                  keep_archives=args.keep_archives, progress=_progress(args))
    for path in paths:
        print(path)
    return 0


def _prepare(args: argparse.Namespace) -> int:
    config = RawHDConfig(time_mode=args.time_mode)
    from delayprop.data._hd_build import load_or_build
    table = load_or_build(locate_hd_audio(args.path), config, cache_dir=args.cache_dir,
                          num_workers=args.workers, progress=_progress(args))
    for split in SPLITS:
        rows = table.rows(split)
        bad = [i for i in rows if table.problem[i]]
        print(f"{split}: {rows.size - len(bad)} usable of {rows.size} recordings")
        for i in bad:
            logger.warning("%s", table.problem[i])
    took = "" if table.seconds is None else f" (built in {table.seconds:.1f} s)"
    print(f"cache: {table.path}{took}")
    return 0


def _show(args: argparse.Namespace) -> int:
    options = {}
    if args.dataset == "rawhd":
        options = {"cache_dir": args.cache_dir, "normalisation": args.normalisation,
                   "on_error": "skip", "progress": _progress(args)}
    split = load_dataset(args.dataset, args.split, args.path, **options)
    out = args.out or f"{args.dataset}_{args.split}_{args.index}.png"
    from delayprop.data._plot import plot_sample
    print(plot_sample(split, args.index, out))
    return 0
