"""``delayprop data fetch | prepare | show``."""
from __future__ import annotations

import argparse
import logging
import sys

from collections import Counter
from pathlib import Path

from delayprop.data._config import NORMALISATIONS, RawHDConfig
from delayprop.data._fetch import ARCHIVES, URL_ENV, fetch
from delayprop.data._hd_files import SPLITS, locate_hd_audio
from delayprop.data._load import DATASETS, load_dataset
from delayprop.data._options import add_data_options, data_options_from_args
from delayprop.errors import ConfigError

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

    sub = actions.add_parser(
        "prepare", help="build the feature cache of RawHD or an audio folder (progress bar)",
        description="Preprocess every recording once into the feature cache and report what "
                    "was found. Exits 1, with one summary line and a file listing them, when "
                    "recordings cannot be used.")
    sub.add_argument("dataset", choices=("rawhd", "audio"))
    sub.add_argument("--path", help=_PATH_HELP + "; for audio: your folder of recordings")
    sub.add_argument("--cache-dir", help="cache folder (default: $DELAYPROP_CACHE/data, else "
                     "the per-user cache folder)")
    sub.add_argument("--workers", type=int, help="processes (default: the CPU cores)")
    add_data_options(sub)
    sub.set_defaults(handler=_prepare)

    sub = actions.add_parser("show", help="save a plot of one sample with its label")
    sub.add_argument("dataset", choices=DATASETS)
    sub.add_argument("--index", type=int, required=True, help="sample index")
    sub.add_argument("--split", default="train", help="train, test (SSC: also valid)")
    sub.add_argument("--path", help=_PATH_HELP)
    sub.add_argument("--cache-dir", help="feature cache folder (RawHD, audio)")
    sub.add_argument("--normalisation", choices=NORMALISATIONS, default="unit",
                     help="normalisation of RawHD and audio (default: unit)")
    sub.add_argument("--labels", help="audio: the file-name pattern (see train --labels)")
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
    options = data_options_from_args(args)
    if args.dataset == "audio":
        return _prepare_audio(args, options)
    for key in options:
        if key not in RawHDConfig.__dataclass_fields__:
            raise ConfigError(f"--{key.replace('_', '-')} applies to audio folders only")
    config = RawHDConfig(**options)
    from delayprop.data._hd_build import load_or_build
    table = load_or_build(locate_hd_audio(args.path), config, cache_dir=args.cache_dir,
                          num_workers=args.workers, progress=_progress(args))
    for split in SPLITS:
        rows = table.rows(split)
        bad = [i for i in rows if table.problem[i]]
        print(f"{split}: {rows.size - len(bad)} usable of {rows.size} recordings")
    took = "" if table.seconds is None else f" (built in {table.seconds:.1f} s)"
    print(f"cache: {table.path}{took}")
    bad = [p for p in table.problem if p]
    if not bad:
        return 0
    listing = table.path.with_suffix(".bad-files.txt")
    _write_lines(listing, bad)
    _summary_line(f"{len(bad)} of {len(table.problem)} RawHD recordings cannot be used",
                  bad, listing)
    return 1


def _prepare_audio(args: argparse.Namespace, options: dict) -> int:
    from delayprop.data._folder import prepare_folder
    from delayprop.data._folder_files import LabelPattern
    from delayprop.data._folder_split import SplitRule
    from delayprop.data._paths import data_root

    split_keys = ("test_speakers", "test_fraction", "test_index", "split_seed")
    rule = SplitRule(**{k: options.pop(k) for k in split_keys if k in options})
    pattern = LabelPattern(options.pop("labels", None))
    options.pop("on_error", None)          # prepare reports every bad file either way
    options.pop("normalisation", None)     # not part of the cache
    table = prepare_folder(data_root(args.path), RawHDConfig(**options), pattern, rule,
                           cache_dir=args.cache_dir, num_workers=args.workers,
                           progress=_progress(args))
    report, record = table.report, table.split_record
    rates = ", ".join(f"{r} Hz: {n}" for r, n in report["source_rates"].items())
    print(f"{table.root}: {report['usable']} usable of {report['files']} audio files; "
          f"{report['classes']} classes ({', '.join(table.class_names[:10])}"
          f"{' ...' if report['classes'] > 10 else ''})")
    print(f"source rates: {rates}; resampled {report['resampled']}, mixed down to mono "
          f"{report['mixed_down']}")
    counts = ", ".join(f"{k} {v}" for k, v in record["counts"].items())
    held = record.get("test_speakers")
    held = f" (test speakers: {', '.join(held)})" if held else ""
    print(f"split by {record['rule']}{held}: {counts}")
    took = "" if table.built.seconds is None else f" (built in {table.built.seconds:.1f} s)"
    print(f"cache: {table.built.path}{took}")
    line = table.summary()
    if line:
        print(f"delayprop data prepare: {line}", file=sys.stderr)
        return 1
    return 0


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _summary_line(head: str, bad: list[str], listing: Path) -> None:
    """One line on stderr: what failed, how often by kind, the first three, where the rest is."""
    kinds = Counter(p.split(": ", 1)[-1].split(" (")[0].split(";")[0][:60] for p in bad)
    common = ", ".join(f"{n} x {k}" for k, n in kinds.most_common(3))
    print(f"delayprop data prepare: {head} ({common}); first: {'; '.join(bad[:3])}; full "
          f"list: {listing}", file=sys.stderr)


def _show(args: argparse.Namespace) -> int:
    options = {}
    if args.dataset in ("rawhd", "audio"):
        options = {"cache_dir": args.cache_dir, "normalisation": args.normalisation,
                   "on_error": "skip", "progress": _progress(args)}
    if args.dataset == "audio" and args.labels:
        options["labels"] = args.labels
    split = load_dataset(args.dataset, args.split, args.path, **options)
    out = args.out or f"{args.dataset}_{args.split}_{args.index}.png"
    from delayprop.data._plot import plot_sample
    print(plot_sample(split, args.index, out))
    return 0
