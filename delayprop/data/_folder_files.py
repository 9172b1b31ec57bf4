"""A folder of audio files: which files, and the label (and speaker, index) of each.

Two layouts:

(a) one sub-folder per class (the Speech Commands layout): ``DIR/<label>/<file>``. Folders
    whose names start with ``_`` or ``.`` (Speech Commands' ``_background_noise_``) are
    not classes and are ignored. A file name ``<speaker>_nohash_<n>.wav`` gives the
    speaker, as in Speech Commands.
(b) any folder with a pattern for the names: a template such as
    ``{label}_{speaker}_{index}.wav`` (fields ``{label}`` required; ``{speaker}``,
    ``{index}`` and any other ``{name}`` optional; a field matches one or more characters
    other than ``/``), or a regular expression with named groups (``(?P<label>...)``).
    A pattern that contains ``/`` is matched against the path relative to ``DIR``, else
    against the file name alone, so files may lie in nested folders.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from delayprop.errors import ConfigError, DataError

__all__ = ["AUDIO_SUFFIXES", "AudioFile", "LabelPattern", "scan_folder", "class_names_of"]

#: File name endings taken as audio (others, e.g. the split lists, are ignored).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
                  ".aifc", ".au", ".w64", ".caf")

_FIELD = re.compile(r"\{(\w*)\}")
_NOHASH = "_nohash_"
_DEFAULT = "{label}/{file}"


@dataclass(frozen=True)
class AudioFile:
    """One audio file: ``rel`` is its path below the folder with ``/`` separators.

    ``problem`` is non-empty (and ``label`` None) when the name does not match the pattern.
    """
    rel: str
    path: str
    size: int
    mtime_ns: int
    label: str | None = None
    speaker: str | None = None
    index: int | None = None
    problem: str = ""


class LabelPattern:
    """A file-name template or regular expression that yields a label (and more).

    Parameters
    ----------
    pattern : str or None
        ``None``: layout (a), the class is the first folder below the data folder.

    Examples
    --------
    >>> p = LabelPattern("{label}_{speaker}_{index}.wav")
    >>> p.fields("recs/7_jackson_12.wav")
    {'label': '7', 'speaker': 'jackson', 'index': '12'}
    """

    def __init__(self, pattern: str | None) -> None:
        self.text = pattern if pattern is not None else _DEFAULT
        self.default = pattern is None
        if not isinstance(self.text, str) or not self.text.strip():
            raise ConfigError(f"labels pattern must be a non-empty string, got {pattern!r}")
        self.regex = _compile(self.text)
        if "label" not in self.regex.groupindex:
            raise ConfigError(f"labels pattern {self.text!r} names no label: use a {{label}} "
                              "field (template) or a (?P<label>...) group (regular expression)")
        self.whole_path = "/" in self.text
        self.has_speaker = "speaker" in self.regex.groupindex or self.default
        self.has_index = "index" in self.regex.groupindex

    def fields(self, rel: str) -> dict[str, str] | None:
        """The named fields of the path ``rel`` (``/`` separated), or None if no match."""
        match = self.regex.fullmatch(rel if self.whole_path else rel.rsplit("/", 1)[-1])
        if match is None:
            return None
        found = {k: v for k, v in match.groupdict().items() if v is not None}
        if self.default and _NOHASH in found.get("file", ""):
            found["speaker"] = found["file"].split(_NOHASH, 1)[0]
        return found

    def __repr__(self) -> str:
        return f"LabelPattern({self.text!r})"


def _compile(text: str) -> re.Pattern[str]:
    if "(?P<" in text:
        try:
            return re.compile(text)
        except re.error as err:
            raise ConfigError(f"labels pattern {text!r} is not a valid regular expression: "
                              f"{err}") from err
    parts, seen, pos = [], set(), 0
    for match in _FIELD.finditer(text):
        name = match.group(1)
        if not name:
            raise ConfigError(f"labels pattern {text!r}: every {{}} field needs a name, e.g. "
                              "{label}, {speaker}, {index}")
        parts.append(re.escape(text[pos:match.start()]))
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>[^/]+?)")
        seen.add(name)
        pos = match.end()
    parts.append(re.escape(text[pos:]))
    return re.compile("".join(parts))


def _walk(root: Path) -> list[str]:
    """Audio files below ``root`` as sorted relative paths; skips ``_``/``.`` folders."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
        rel_dir = os.path.relpath(folder, root)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        found.extend(prefix + f for f in files
                     if f.lower().endswith(AUDIO_SUFFIXES) and not f.startswith("."))
    return sorted(found)


def scan_folder(root: Path, pattern: LabelPattern) -> list[AudioFile]:
    """Every audio file below ``root`` with its label, or the reason it has none.

    Raises
    ------
    DataError
        The folder does not exist or holds no audio file, or (layout (a)) it holds no class
        folder.
    """
    if not root.is_dir():
        raise DataError(f"audio folder {root} does not exist or is not a folder")
    rels = _walk(root)
    if not rels:
        raise DataError(f"{root}: no audio files found (looked for {', '.join(AUDIO_SUFFIXES)} "
                        "in it and its sub-folders)")
    if pattern.default and all("/" not in rel for rel in rels):
        raise DataError(f"{root}: holds {len(rels)} audio files but no class folders (layout "
                        f"(a): DIR/<label>/<file>); for a flat folder give a file-name pattern, "
                        f"e.g. --labels '{{label}}_{{speaker}}_{{index}}.wav' (first file: "
                        f"{rels[0]})")
    out = []
    for rel in rels:
        path = os.path.join(root, rel)
        stat = os.stat(path)
        fields = pattern.fields(rel)
        if fields is None or not fields.get("label"):
            what = ("is not in a class folder" if pattern.default else
                    f"does not match the labels pattern {pattern.text!r}")
            out.append(AudioFile(rel, path, stat.st_size, stat.st_mtime_ns,
                                 problem=f"{path}: file name {what}"))
            continue
        index = fields.get("index")
        out.append(AudioFile(rel, path, stat.st_size, stat.st_mtime_ns, label=fields["label"],
                             speaker=fields.get("speaker"),
                             index=int(index) if index is not None and index.isdigit()
                             else None))
    return out


def class_names_of(labels: set[str]) -> tuple[str, ...]:
    """Class names in label order: numeric labels by value, others alphabetically."""
    if labels and all(label.isdigit() for label in labels):
        return tuple(sorted(labels, key=lambda label: (int(label), label)))
    return tuple(sorted(labels))
