"""Strict templates for the generated source.

The fixed text of each generated file (includes, runtime helpers, entry points) lives in
``backends/templates/*.cpp`` / ``*.cu``, where it reads as C++; the backends supply only
what depends on the model. The syntax is deliberately small:

``{{name}}``
    replaced by the value of ``name`` (a string or an int).
a line holding only spaces and one ``{{name}}``
    a *block*: replaced by the value's lines, each indented by those spaces (blank and
    preprocessor lines such as ``#line`` stay at column 0, as everywhere in the generated
    code); an empty value removes the line.
``{# ... #}`` on a line of its own
    a note for readers of the template, dropped from the output.

Strict: a placeholder without a value, a value that no placeholder uses, or a ``{{``
that does not open a placeholder is a :class:`~delayprop.errors.CodeGenerationError`
naming the template and the name, so a renamed placeholder fails the generation, never
the C++ compiler (or worse, nothing at all).
"""
from __future__ import annotations

import functools
import re
from importlib import resources

from delayprop.compile.lower import _indent
from delayprop.errors import CodeGenerationError

__all__ = ["render_template", "render_text"]

_NAME = r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}"
_INLINE = re.compile(_NAME)
_BLOCK = re.compile(r"( *)" + _NAME + r"[ \t]*\n?")
_NOTE = re.compile(r"[ \t]*\{#.*#\}[ \t]*\n?")


def _parse(text: str) -> tuple[tuple[int, str], ...]:
    """``(line number, line)`` of a template, notes left out."""
    return tuple((i, line) for i, line in enumerate(text.splitlines(True), 1)
                 if not _NOTE.fullmatch(line))


@functools.lru_cache(maxsize=None)
def _load(name: str) -> tuple[tuple[int, str], ...]:
    path = resources.files(__package__).joinpath("templates", name)
    try:
        return _parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CodeGenerationError(f"no template {name!r} in {__package__}/templates") from None


def render_template(template: str, /, **values: str | int) -> str:
    """The text of ``templates/<template>`` with every placeholder replaced by its value."""
    return _render(template, _load(template), values)


def render_text(text: str, values: dict[str, str | int], name: str = "<text>") -> str:
    """:func:`render_template` of a template given as text (``name`` labels errors)."""
    return _render(name, _parse(text), values)


def _render(template: str, lines, values: dict) -> str:
    used: set[str] = set()

    def value(key: str, lineno: int) -> str:
        if key not in values:
            raise CodeGenerationError(f"template {template}:{lineno}: no value for "
                                      f"placeholder '{key}'")
        v = values[key]
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise CodeGenerationError(f"template {template}: placeholder '{key}' needs a "
                                      f"string or an int, got {type(v).__name__}")
        used.add(key)
        return str(v)

    out = []
    for lineno, line in lines:
        block = _BLOCK.fullmatch(line)
        if block:
            text = value(block.group(2), lineno)
            if text and not text.endswith("\n"):
                text += "\n"
            out.append(_indent(text, len(block.group(1))))
            continue
        if "{{" in _INLINE.sub("", line):
            raise CodeGenerationError(f"template {template}:{lineno}: '{{{{' that opens no "
                                      f"placeholder (names are letters, digits and _)")
        out.append(_INLINE.sub(lambda m: value(m.group(1), lineno), line))
    unused = sorted(set(values) - used)
    if unused:
        raise CodeGenerationError(f"template {template}: no placeholder for the given "
                                  f"value(s) {', '.join(repr(u) for u in unused)}")
    return "".join(out)
