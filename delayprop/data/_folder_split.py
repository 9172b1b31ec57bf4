"""Which files of an audio folder are for training, validation and testing.

One rule decides, chosen by the options given (at most one of them):

- ``lists``: Speech Commands' ``validation_list.txt`` and ``testing_list.txt`` in the folder
  (paths relative to it); every other file trains. The default when the files exist.
- ``speakers``: ``test_speakers=("a", "b")`` — every file of those speakers tests.
- ``fraction``: ``test_fraction=0.2`` — that fraction of the speakers (drawn with
  ``split_seed``) tests; without speakers in the names, that fraction of each class's
  files. The default when there are no list files (0.2, seed 0).
- ``index``: ``test_index=(0, 4)`` — files whose ``{index}`` field lies in the inclusive
  range test (the Free Spoken Digit Dataset's rule is 0-4).

The result is recorded (rule, parameters, test speakers, counts) in ``Split.info["split"]``
and in a training run's ``config.json``.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from delayprop.data._folder_files import AudioFile
from delayprop.errors import ConfigError, DataError

__all__ = ["SPLIT_LISTS", "SplitRule", "assign_splits", "parse_index_range"]

logger = logging.getLogger(__name__)

#: Speech Commands' list files: split name -> file in the data folder.
SPLIT_LISTS = {"valid": "validation_list.txt", "test": "testing_list.txt"}
DEFAULT_FRACTION = 0.2


def parse_index_range(value: Any) -> tuple[int, int]:
    """``"0-4"``, ``"3"``, ``(0, 4)`` or ``[0, 4]`` -> ``(0, 4)`` (inclusive)."""
    try:
        if isinstance(value, str):
            lo, _, hi = value.strip().partition("-")
            pair = (int(lo), int(hi) if hi else int(lo))
        else:
            lo, hi = value
            pair = (int(lo), int(hi))
    except (TypeError, ValueError):
        raise ConfigError(f"test_index must be a range 'FIRST-LAST' of whole numbers "
                          f"(e.g. '0-4'), got {value!r}") from None
    if not 0 <= pair[0] <= pair[1]:
        raise ConfigError(f"test_index needs 0 <= FIRST <= LAST, got {value!r}")
    return pair


@dataclass(frozen=True)
class SplitRule:
    """The options of the split; at most one of the three may be set."""
    test_speakers: tuple[str, ...] | None = None
    test_fraction: float | None = None
    test_index: tuple[int, int] | None = None
    split_seed: int = 0

    def __post_init__(self) -> None:
        given = [n for n in ("test_speakers", "test_fraction", "test_index")
                 if getattr(self, n) is not None]
        if len(given) > 1:
            raise ConfigError(f"give one split rule, not {' and '.join(given)}")
        if self.test_speakers is not None:
            speakers = self.test_speakers
            if isinstance(speakers, str):
                speakers = tuple(s.strip() for s in speakers.split(",") if s.strip())
            object.__setattr__(self, "test_speakers", tuple(str(s) for s in speakers))
            if not self.test_speakers:
                raise ConfigError("test_speakers is empty; name at least one speaker")
        if self.test_fraction is not None and not 0.0 < float(self.test_fraction) < 1.0:
            raise ConfigError(f"test_fraction must lie in (0, 1), got {self.test_fraction!r}")
        if self.test_index is not None:
            object.__setattr__(self, "test_index", parse_index_range(self.test_index))
        if isinstance(self.split_seed, bool) or not isinstance(self.split_seed, int):
            raise ConfigError(f"split_seed must be a whole number, got {self.split_seed!r}")


def assign_splits(root: Path, files: Sequence[AudioFile],
                  rule: SplitRule) -> tuple[list[str], dict[str, Any]]:
    """The split (``"train"``, ``"valid"`` or ``"test"``) of each file, and a record of how.

    Files with a problem (no label) get ``"train"`` but are never used.
    """
    lists = {split: root / name for split, name in SPLIT_LISTS.items()}
    if rule.test_speakers is not None:
        return _by_speakers(files, rule.test_speakers)
    if rule.test_index is not None:
        return _by_index(files, rule.test_index)
    if rule.test_fraction is None and any(p.is_file() for p in lists.values()):
        return _by_lists(files, lists)
    return _by_fraction(files, rule.test_fraction or DEFAULT_FRACTION, rule.split_seed)


def _speakers(files: Sequence[AudioFile], why: str) -> list[str | None]:
    speakers = [f.speaker for f in files if not f.problem]
    missing = [f.rel for f in files if not f.problem and f.speaker is None]
    if missing:
        raise DataError(f"{why} needs the speaker of every file, but {len(missing)} file "
                        f"name(s) give none (first: {missing[0]}); add a {{speaker}} field to "
                        "the labels pattern")
    return speakers


def _by_speakers(files: Sequence[AudioFile],
                 test: tuple[str, ...]) -> tuple[list[str], dict[str, Any]]:
    known = sorted(set(_speakers(files, "test_speakers")))
    unknown = [s for s in test if s not in known]
    if unknown:
        raise DataError(f"test speakers {unknown} do not occur; the {len(known)} speakers "
                        f"are: {', '.join(known[:20])}{' ...' if len(known) > 20 else ''}")
    chosen = set(test)
    splits = ["test" if f.speaker in chosen else "train" for f in files]
    return splits, {"rule": "speakers", "test_speakers": sorted(chosen)}


def _by_index(files: Sequence[AudioFile],
              span: tuple[int, int]) -> tuple[list[str], dict[str, Any]]:
    missing = [f.rel for f in files if not f.problem and f.index is None]
    if missing:
        raise DataError(f"test_index needs a numeric {{index}} field in every file name, but "
                        f"{len(missing)} give none (first: {missing[0]})")
    splits = ["test" if f.index is not None and span[0] <= f.index <= span[1] else "train"
              for f in files]
    return splits, {"rule": "index", "test_index": list(span)}


def _by_fraction(files: Sequence[AudioFile], fraction: float,
                 seed: int) -> tuple[list[str], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    usable = [f for f in files if not f.problem]
    if all(f.speaker is not None for f in usable):
        speakers = sorted({f.speaker for f in usable})
        if len(speakers) < 2:
            raise DataError(f"a held-out fraction of speakers needs at least 2 speakers, "
                            f"found {len(speakers)}; give --test-index or split lists")
        count = min(len(speakers) - 1, max(1, round(fraction * len(speakers))))
        chosen = {speakers[i] for i in rng.permutation(len(speakers))[:count]}
        splits = ["test" if f.speaker in chosen else "train" for f in files]
        return splits, {"rule": "fraction", "by": "speaker", "test_fraction": fraction,
                        "split_seed": seed, "test_speakers": sorted(chosen)}
    logger.warning("file names give no speaker: holding out %.0f %% of each class's files, "
                   "so one speaker's recordings may be in both splits", 100 * fraction)
    splits = ["train"] * len(files)
    by_label: dict[str, list[int]] = {}
    for i, f in enumerate(files):
        if not f.problem:
            by_label.setdefault(f.label, []).append(i)
    for label in sorted(by_label):
        members = by_label[label]
        count = min(len(members) - 1, max(1, math.floor(fraction * len(members) + 0.5)))
        for j in rng.permutation(len(members))[:count]:
            splits[members[j]] = "test"
    return splits, {"rule": "fraction", "by": "file", "test_fraction": fraction,
                    "split_seed": seed}


def _read_list(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [line.strip().replace("\\", "/") for line in path.read_text().splitlines()
            if line.strip()]


def _by_lists(files: Sequence[AudioFile],
              lists: dict[str, Path]) -> tuple[list[str], dict[str, Any]]:
    named = {split: _read_list(path) for split, path in lists.items()}
    both = sorted(set(named["valid"]) & set(named["test"]))
    if both:
        raise DataError(f"{len(both)} file(s) are in both {SPLIT_LISTS['valid']} and "
                        f"{SPLIT_LISTS['test']} (first: {both[0]})")
    where = {rel: split for split, rels in named.items() for rel in rels}
    present = {f.rel for f in files}
    absent = sorted(rel for rel in where if rel not in present)
    if absent:
        logger.warning("%d file(s) named in the split lists are not in the folder (first: "
                       "%s); they are left out", len(absent), absent[0])
    splits = [where.get(f.rel, "train") for f in files]
    return splits, {"rule": "lists", "lists": [str(p.name) for p in lists.values()
                                               if p.is_file()],
                    "listed_but_absent": len(absent)}
