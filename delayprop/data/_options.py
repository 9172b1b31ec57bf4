"""The data-loading options shared by ``delayprop train`` and ``delayprop data prepare``.

Each option maps to a keyword of :func:`load_dataset` (``--on-bad-file`` to ``on_error``);
in a TOML run configuration they go into the ``[data_options]`` table under the same names.
"""
from __future__ import annotations

import argparse
import difflib
from dataclasses import fields
from typing import Any

from delayprop.data._config import NORMALISATIONS, TIME_MODES, RawHDConfig
from delayprop.errors import ConfigError

__all__ = ["GRADED_DATASETS", "add_data_options", "data_options_from_args",
           "check_data_options"]

#: Data sets whose samples are graded values (log-mel features), not spikes.
GRADED_DATASETS = ("rawhd", "audio")

_FEATURES = tuple(f.name for f in fields(RawHDConfig))
_LOADER = ("on_error",)
_AUDIO = ("labels", "test_speakers", "test_fraction", "test_index", "split_seed")
_ALLOWED = {"rawhd": (*_LOADER, *_FEATURES), "audio": (*_LOADER, *_AUDIO, *_FEATURES),
            "shd": (), "ssc": ()}

# flag, keyword, type, help
_FLAGS: list[tuple[str, str, Any, str]] = [
    ("--labels", "labels", str, "audio: file-name pattern naming the label (and optionally "
     "speaker, index), e.g. '{label}_{speaker}_{index}.wav' or a regular expression with "
     "named groups; default: one sub-folder per class"),
    ("--test-speakers", "test_speakers", str, "audio: comma-separated speakers whose files "
     "form the test split"),
    ("--test-fraction", "test_fraction", float, "audio: hold out this fraction of the "
     "speakers (of each class's files without speakers) for testing (default 0.2 unless "
     "the folder has Speech Commands' testing_list.txt)"),
    ("--test-index", "test_index", str, "audio: files whose {index} lies in FIRST-LAST "
     "(e.g. 0-4) test"),
    ("--split-seed", "split_seed", int, "audio: seed of --test-fraction's draw (default 0)"),
    ("--sample-rate", "sample_rate", int, "analysis rate in Hz (default 22050)"),
    ("--n-fft", "n_fft", int, "FFT length in samples (default 512)"),
    ("--win-length", "win_length", int, "window in samples (default 512)"),
    ("--hop-length", "hop_length", int, "hop between frames = one step, in samples "
     "(default 220)"),
    ("--n-mels", "n_mels", int, "mel bands = input channels (default 40)"),
    ("--fmin", "fmin", float, "lowest mel frequency in Hz (default 0)"),
    ("--fmax", "fmax", float, "highest mel frequency in Hz (default: Nyquist of the analysis "
     "rate and of the lowest source rate)"),
    ("--num-steps", "num_steps", int, "steps per sample (default 80)"),
]


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """Add the loader options (all default to None = not given) to ``parser``."""
    group = parser.add_argument_group("data options (rawhd, audio)")
    metavars = {"labels": "PATTERN", "test_speakers": "A,B", "test_fraction": "F",
                "test_index": "FIRST-LAST", "fmin": "HZ", "fmax": "HZ", "sample_rate": "HZ"}
    for flag, dest, kind, text in _FLAGS:
        group.add_argument(flag, dest=dest, type=kind, help=text,
                           metavar=metavars.get(dest, "N"))
    group.add_argument("--time-mode", choices=TIME_MODES, help="crop_pad (default: the "
                       "first num_steps hops) or resample (the whole recording)")
    group.add_argument("--normalisation", choices=NORMALISATIONS, help="default unit")
    group.add_argument("--on-bad-file", dest="on_error", choices=("skip", "raise", "error"),
                       help="unusable audio files (bad name, empty, truncated, not audio, "
                            "silent): skip them, counted and listed (default for audio), "
                            "or stop with an error naming them (raise or error; default "
                            "for rawhd)")


def data_options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The loader options given on a command line, as :func:`load_dataset` keywords."""
    found = {}
    for dest in (*(f[1] for f in _FLAGS), "time_mode", "normalisation", "on_error"):
        value = getattr(args, dest, None)
        if value is not None:
            found[dest] = "raise" if dest == "on_error" and value == "error" else value
    return found


def check_data_options(data: str, options: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` for options that ``data`` does not take."""
    allowed = _ALLOWED.get(data, ())
    for key in options:
        if key not in allowed:
            known = [*_ALLOWED["audio"]]
            hint = difflib.get_close_matches(key, known, n=1)
            if key in known:
                raise ConfigError(f"data option {key!r} does not apply to data set {data!r}"
                                  f"{'; it takes ' + ', '.join(allowed) if allowed else ''}")
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(f"unknown data option {key!r}{extra}; known: {', '.join(known)}")
