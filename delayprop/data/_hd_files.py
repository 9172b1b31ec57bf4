"""The Heidelberg Digits audio folder: where it is, its split lists, labels from file names.

Layout (that of ``/work/shared/data/hd_audio`` and of the authors' ``hd_audio.tar.gz``)::

    hd_audio/
      audio/lang-{english|german}_speaker-{NN}_trial-{T}_digit-{D}.flac
      train_filenames.txt     one file name a line
      test_filenames.txt

Label: ``D`` for English, ``D + 10`` for German (the SHD convention).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from delayprop.data._paths import describe_root, data_root
from delayprop.errors import DataError

__all__ = ["CLASS_NAMES", "SPLITS", "HDFile", "locate_hd_audio", "parse_label",
           "read_manifest"]

SPLITS = ("train", "test")

#: Label k names: English digits 0-9 as labels 0-9, German digits as labels 10-19.
CLASS_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
               "nine", "null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben",
               "acht", "neun")

_NAME = re.compile(r"lang-(english|german)_speaker-(\d+)_trial-(\d+)_digit-(\d)\.flac")


@dataclass(frozen=True)
class HDFile:
    """One entry of a split list.

    ``label`` is -1 and ``problem`` says why when the name cannot be parsed; ``size`` is
    -1 when the file does not exist.
    """
    split: str
    name: str
    path: str
    size: int
    label: int
    problem: str = ""


def parse_label(name: str) -> int:
    """Class label of a file name: the digit for English, digit + 10 for German.

    Raises
    ------
    DataError
        If ``name`` does not follow ``lang-{english|german}_speaker-NN_trial-T_digit-D.flac``.

    Examples
    --------
    >>> from delayprop.data import parse_label
    >>> parse_label("lang-german_speaker-03_trial-1_digit-7.flac")
    17
    """
    match = _NAME.fullmatch(os.path.basename(name))
    if match is None:
        raise DataError(f"{name}: cannot parse a label from this file name; expected "
                        "lang-{english|german}_speaker-NN_trial-T_digit-D.flac")
    digit = int(match.group(4))
    return digit if match.group(1) == "english" else digit + 10


def locate_hd_audio(path: str | os.PathLike[str] | None = None) -> Path:
    """The Heidelberg Digits audio folder (the one holding ``train_filenames.txt``).

    ``path`` (else ``DELAYPROP_DATA``, else the per-user data folder) may be that folder
    itself or a folder containing it as ``hd_audio/``.

    Raises
    ------
    DataError
        If neither exists, saying where it looked and how to get the data.
    """
    root = data_root(path)
    for candidate in (root, root / "hd_audio"):
        if (candidate / "train_filenames.txt").is_file():
            return candidate
    raise DataError(
        f"Heidelberg Digits audio not found in {describe_root(path)}: expected "
        "train_filenames.txt, test_filenames.txt and audio/*.flac there or in its hd_audio/ "
        "subfolder. Get it with `delayprop data fetch rawhd` (downloads the authors' "
        "hd_audio.tar.gz from https://zenkelab.org/datasets/), or point at an existing copy "
        "with path=... / --path or the DELAYPROP_DATA environment variable")


def _read_list(folder: Path, split: str) -> list[str]:
    list_path = folder / f"{split}_filenames.txt"
    try:
        lines = list_path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as err:
        raise DataError(f"{list_path}: split list missing; the HD audio folder must hold "
                        "train_filenames.txt and test_filenames.txt") from err
    names = [line.strip() for line in lines if line.strip()]
    seen: dict[str, int] = {}
    for number, name in enumerate(names, start=1):
        if name in seen:
            raise DataError(f"{list_path}: {name} is listed twice (entries {seen[name]} and "
                            f"{number}); remove the duplicate")
        seen[name] = number
    return names


def read_manifest(folder: Path) -> list[HDFile]:
    """Every entry of ``train_filenames.txt`` then ``test_filenames.txt``, with file sizes.

    Raises
    ------
    DataError
        If a list is missing, lists a name twice, or a name is in both splits.
    """
    lists = {split: _read_list(folder, split) for split in SPLITS}
    both = sorted(set(lists["train"]) & set(lists["test"]))
    if both:
        raise DataError(f"{folder}: {len(both)} file(s) are in both train_filenames.txt and "
                        f"test_filenames.txt (first: {both[0]}); a sample must belong to "
                        "one split only")
    manifest = []
    audio = os.path.join(folder, "audio")
    for split in SPLITS:
        for name in lists[split]:
            path = os.path.join(audio, name)     # plain strings: 10,420 Path objects cost 0.5 s
            try:
                size = os.stat(path).st_size
            except FileNotFoundError:
                size = -1
            try:
                label, problem = parse_label(name), ""
            except DataError as err:
                label, problem = -1, str(err)
            manifest.append(HDFile(split, name, path, size, label, problem))
    return manifest
