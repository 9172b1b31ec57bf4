"""``audio``: your own folder of recordings as 40 mel channels x 80 steps, like RawHD."""
from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from delayprop.data._build import Built, Job, load_or_build_features
from delayprop.data._cache import hash_key
from delayprop.data._config import RawHDConfig, merge_config
from delayprop.data._features import apply_normaliser, fit_normaliser
from delayprop.data._folder_files import AudioFile, LabelPattern, class_names_of, scan_folder
from delayprop.data._folder_split import SplitRule, assign_splits
from delayprop.data._paths import cache_root, data_root
from delayprop.data._split import Split, _init_fields
from delayprop.errors import ConfigError, DataError

__all__ = ["AudioFolder", "AUDIO_SPLITS", "adapt_mel_range"]

logger = logging.getLogger(__name__)

AUDIO_SPLITS = ("train", "valid", "test")
ON_ERROR = ("skip", "raise")
_SHOW = 3
_WARNED: set[str] = set()


class AudioFolder(Split):
    """One split of a folder of labelled recordings, as log-mel features.

    The features are RawHD's (:class:`RawHDConfig`: 40 log-mel bands x 80 steps of 10 ms,
    normalised with statistics of the training split) and use the same cache, keyed on
    every feature setting and on each file's path, size and modification time. Labels come
    from class folders (layout (a)) or a file-name pattern (layout (b)); the split from
    Speech Commands' list files, named test speakers, a seeded fraction of speakers, or an
    index range. See ``delayprop/data/README.md``.

    Parameters
    ----------
    path : path-like
        The folder (default: ``DELAYPROP_DATA``).
    split : {'train', 'valid', 'test'}
        ``'valid'`` exists only with Speech Commands' ``validation_list.txt``.
    config : RawHDConfig, optional
        Feature settings; fields may also be given as keywords. With ``fmax`` unset, the mel
        range ends at the Nyquist frequency of the lowest source rate (with a warning when
        that is below the analysis rate's), so no band is empty; an ``fmax`` above that is
        an error.
    labels : str, optional
        File-name pattern of layout (b): template ``'{label}_{speaker}_{index}.wav'`` or a
        regular expression with named groups. Default: layout (a), one folder per class.
    test_speakers, test_fraction, test_index, split_seed
        The split rule (at most one of the first three); see :class:`SplitRule`.
    on_error : {'skip', 'raise'}
        Unusable files (name does not match, empty, truncated, not audio, unreadable,
        silent): ``'skip'`` counts them, names them in one warning line and a listing
        file (``info['bad_files_list']``); ``'raise'`` raises a :class:`DataError`.
    cache_dir, num_workers, progress
        As for :class:`RawHD`.

    Raises
    ------
    DataError
        No usable file, a pattern that matches nothing, a class without a training or test
        sample, or bad files with ``on_error='raise'`` — each in one summary line.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, split: str = "train",
                 config: RawHDConfig | None = None, *, labels: str | None = None,
                 test_speakers: Any = None, test_fraction: float | None = None,
                 test_index: Any = None, split_seed: int = 0, on_error: str = "skip",
                 cache_dir: str | os.PathLike[str] | None = None,
                 num_workers: int | None = None, progress: bool | None = None,
                 **overrides: Any) -> None:
        if split not in AUDIO_SPLITS:
            raise ConfigError(f"audio split must be one of {AUDIO_SPLITS}, got {split!r}")
        if on_error not in ON_ERROR:
            raise ConfigError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        config = merge_config(config, overrides)
        rule = SplitRule(test_speakers, test_fraction, test_index, split_seed)
        table = prepare_folder(data_root(path), config, LabelPattern(labels), rule,
                               cache_dir=cache_dir, num_workers=num_workers,
                               progress=progress)
        table.report_problems(on_error)
        rows = table.rows(split)
        if rows.size == 0:
            raise DataError(f"{table.root}: the {split!r} split is empty (split rule: "
                            f"{table.split_record['rule']}); validation files come only from "
                            "validation_list.txt" if split == "valid" else
                            f"{table.root}: the {split!r} split holds no usable file")
        train_db = table.db[table.rows("train")]
        stats = fit_normaliser(train_db, table.config)
        x = apply_normaliser(table.db[rows], stats)
        info = {"config": table.config.to_dict(), "normalisation": stats,
                "cache": str(table.built.path), "folder": str(table.root),
                "labels": table.pattern.text, "split": table.split_record,
                "report": table.report, "mel_range": table.mel_note,
                "skipped": table.skipped(),
                "bad_files_list": str(table.listing) if table.summary() else None,
                "frames": table.built.arrays["frames"][table.cached_rows(rows)],
                "preprocess_seconds": table.built.seconds}
        _init_fields(self, {
            "name": f"audio/{split}", "x": x, "y": table.labels[rows],
            "num_channels": table.config.n_mels, "num_steps": table.config.num_steps,
            "num_classes": len(table.class_names), "class_names": table.class_names,
            "dt": table.config.step_ms,
            "sample_ids": tuple(table.files[i].rel for i in rows), "info": info})
        Split.__post_init__(self)

    @property
    def config(self) -> RawHDConfig:
        """The feature settings of this split (with ``fmax`` as adapted)."""
        return RawHDConfig(**self.info["config"])


def adapt_mel_range(config: RawHDConfig, rates: dict[str, int]) -> tuple[RawHDConfig, str]:
    """Keep the mel bands below every file's Nyquist frequency.

    ``rates`` maps file to source rate. Returns the config (``fmax`` lowered when it was
    unset) and a note saying what was done and why ("" when nothing was needed).

    Raises
    ------
    ConfigError
        ``fmax`` was set explicitly above the lowest file's Nyquist frequency.
    """
    if not rates:
        return config, ""
    first, lowest = min(rates.items(), key=lambda item: (item[1], item[0]))
    limit = min(config.sample_rate, lowest) / 2
    if config.fmax_hz <= limit:
        return config, ""
    count = sum(1 for r in rates.values() if r == lowest)
    why = (f"{count} file(s) are recorded at {lowest} Hz (first: {first}), whose Nyquist "
           f"frequency is {limit:g} Hz; after resampling to {config.sample_rate} Hz the mel "
           f"bands above it would be empty")
    if config.fmax is not None:
        raise ConfigError(f"fmax = {config.fmax:g} Hz is too high: {why}. Lower fmax to "
                          f"{limit:g} or leave it unset to have it set so")
    if config.fmin >= limit:
        raise ConfigError(f"fmin = {config.fmin:g} Hz leaves no mel range: {why}")
    note = f"mel range capped at fmax = {limit:g} Hz: {why}. Set fmax to choose it yourself"
    if note not in _WARNED:                   # once per process, not once per split
        _WARNED.add(note)
        logger.warning("%s", note)
    return replace(config, fmax=float(limit)), note


def _probe(files: list[AudioFile]) -> tuple[dict[str, int], dict[int, str]]:
    """Source rate of every labelled file (header only), and problems of unreadable ones."""
    rates, problems = {}, {}
    for i, f in enumerate(files):
        if f.problem:
            continue
        try:
            rates[f.path] = sf.info(f.path).samplerate
        except (sf.SoundFileError, RuntimeError) as err:
            problems[i] = f"{f.path}: cannot decode audio ({' '.join(str(err).split())}); " \
                          "the file is corrupt, truncated or not audio"
    return rates, problems


class FolderTable:
    """Everything about a folder that the splits share: files, labels, features, problems."""

    def __init__(self, root: Path, pattern: LabelPattern, config: RawHDConfig,
                 files: list[AudioFile], problem: list[str], splits: list[str],
                 split_record: dict[str, Any], built: Built, cached: dict[int, int],
                 mel_note: str, listing: Path) -> None:
        self.root, self.pattern, self.config, self.files = root, pattern, config, files
        self.problem, self.splits, self.built = problem, splits, built
        self.mel_note, self.listing, self._cached = mel_note, listing, cached
        usable = [i for i, p in enumerate(problem) if not p]
        labelled = {f.label for f in files if f.label is not None}
        self.class_names = class_names_of(labelled)
        index = {name: k for k, name in enumerate(self.class_names)}
        self.labels = np.array([index.get(f.label, -1) for f in files], dtype=np.int64)
        self.db = np.zeros((len(files), config.num_steps, config.n_mels), dtype=np.float32)
        if usable:
            self.db[usable] = built.arrays["db"][[cached[i] for i in usable]]
        counts = {s: sum(1 for i in usable if splits[i] == s) for s in AUDIO_SPLITS}
        self.split_record = {**split_record, "counts": counts}
        rate = built.arrays["source_rate"]
        channels = built.arrays["source_channels"]
        used = [cached[i] for i in usable]
        self.report = {
            "files": len(files), "usable": len(usable), "bad": len(files) - len(usable),
            "resampled": int(sum(rate[j] != config.sample_rate for j in used)),
            "mixed_down": int(sum(channels[j] > 1 for j in used)),
            "source_rates": {str(r): n for r, n in sorted(Counter(int(rate[j])
                                                                   for j in used).items())},
            "classes": len(self.class_names)}
        self._check_classes(usable)

    def _check_classes(self, usable: list[int]) -> None:
        if not usable:
            raise DataError(f"{self.root}: none of the {len(self.files)} audio files is "
                            f"usable; first problem: {self._first_problems()}; full list: "
                            f"{self.listing}")
        for split in ("train", "test"):
            have = {self.labels[i] for i in usable if self.splits[i] == split}
            empty = [name for k, name in enumerate(self.class_names) if k not in have]
            if empty:
                more = ", ..." if len(empty) > 5 else ""
                raise DataError(f"{self.root}: {len(empty)} class(es) have no usable {split} "
                                f"sample ({', '.join(empty[:5])}{more}) under the split rule "
                                f"{self.split_record['rule']!r}; choose another split "
                                "(--test-speakers, --test-fraction, --test-index) or add "
                                "recordings")

    def rows(self, split: str) -> np.ndarray:
        return np.array([i for i, (s, p) in enumerate(zip(self.splits, self.problem))
                         if s == split and not p], dtype=np.int64)

    def cached_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.array([self._cached[int(i)] for i in rows], dtype=np.int64)

    def skipped(self) -> list[dict[str, str]]:
        return [{"name": f.rel, "reason": p} for f, p in zip(self.files, self.problem) if p]

    def _first_problems(self) -> str:
        bad = [p for p in self.problem if p]
        return "; ".join(bad[:_SHOW]) + (" ..." if len(bad) > _SHOW else "")

    def summary(self) -> str:
        """One line: how many files are unusable, why (counted by kind), the first few."""
        bad = [p for p in self.problem if p]
        if not bad:
            return ""
        kinds = Counter(_kind(p) for p in bad)
        by_kind = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(),
                                                             key=lambda kn: (-kn[1], kn[0])))
        return (f"{self.root}: {len(bad)} of {len(self.files)} audio files cannot be used "
                f"({by_kind}); first: {self._first_problems()}; full list: {self.listing}")

    def report_problems(self, on_error: str) -> None:
        line = self.summary()
        if not line:
            return
        if on_error == "raise":
            raise DataError(line + " (on_error='skip' / --on-bad-file skip leaves them out)")
        logger.warning("%s; they are left out", line)


def _kind(problem: str) -> str:
    for key, kind in (("does not match the labels pattern", "names not matching the pattern"),
                      ("not in a class folder", "not in a class folder"),
                      ("cannot decode", "not decodable"), ("truncated", "truncated"),
                      ("empty recording", "empty"), ("all silent", "silent"),
                      ("non-finite", "non-finite")):
        if key in problem:
            return kind
    return "other"


def prepare_folder(root: Path, config: RawHDConfig, pattern: LabelPattern, rule: SplitRule, *,
                   cache_dir: str | os.PathLike[str] | None = None,
                   num_workers: int | None = None,
                   progress: bool | None = None) -> FolderTable:
    """Scan, label, split and preprocess a folder (features cached); see :class:`AudioFolder`.

    Raises
    ------
    DataError
        No audio, a pattern that matches none of the files, no usable file, a class with
        no training or test sample.
    """
    files = scan_folder(root, pattern)
    problem = [f.problem for f in files]
    listing = cache_root(cache_dir) / \
        f"audio-{hash_key({'root': str(root.resolve())})[:12]}-bad-files.txt"
    if all(problem):
        _write_listing(listing, root, problem)
        raise DataError(f"{root}: the labels pattern {pattern.text!r} matches none of the "
                        f"{len(files)} audio files (first: {files[0].rel}); full list: "
                        f"{listing}")
    rates, unreadable = _probe(files)
    for i, why in unreadable.items():
        problem[i] = why
    config, mel_note = adapt_mel_range(config, rates)
    splits, record = assign_splits(root, files, rule)
    jobs = [i for i, p in enumerate(problem) if not p]
    built = load_or_build_features(
        [Job(files[i].path) for i in jobs], config,
        files_key=[[files[i].rel, files[i].size, files[i].mtime_ns] for i in jobs],
        prefix="audio", cache_dir=cache_dir, num_workers=num_workers, progress=progress,
        desc="audio features", extra_meta={"folder": str(root)})
    cached = {i: j for j, i in enumerate(jobs)}
    for i, j in cached.items():
        if built.problem[j]:
            problem[i] = built.problem[j]
    _write_listing(listing, root, problem)
    return FolderTable(root, pattern, config, files, problem, splits, record, built, cached,
                       mel_note, listing)


def _write_listing(listing: Path, root: Path, problem: list[str]) -> None:
    """One unusable file a line with its reason (removed when there is none)."""
    bad = [p for p in problem if p]
    try:
        if bad:
            listing.parent.mkdir(parents=True, exist_ok=True)
            listing.write_text(f"# unusable audio files below {root}\n" + "\n".join(bad)
                               + "\n", encoding="utf-8")
        elif listing.exists():
            listing.unlink()
    except OSError as err:
        logger.warning("cannot write the list of bad files %s (%s)", listing, err)
