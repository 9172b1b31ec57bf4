"""Scanning of model code strings (the accepted C subset, see language.md).

The generator parses nothing it does not need: it tokenises a code string into
identifiers, numbers and everything else, checks that every identifier is known, types
unsuffixed floating-point literals as ``scalar`` and substitutes constants. Everything else
(statements, operators, control flow) passes through untouched to the C/C++/CUDA compiler,
with ``#line`` directives so that its errors point at the user's line.
"""
from __future__ import annotations

import difflib
import re
import warnings
from dataclasses import dataclass

from delayprop.errors import ModelDefinitionError

__all__ = ["Token", "tokenize", "identifiers", "check_names", "rewrite_legacy",
           "C_KEYWORDS", "MATH_FUNCTIONS"]

C_KEYWORDS = frozenset("""
    if else for while do break continue return switch case default goto sizeof
    const static volatile unsigned signed int long short char float double void bool
    true false scalar timepoint int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t
    uint64_t size_t
""".split())

#: C99 maths functions accepted in code strings (GeNN's list, docs/custom_models.rst).
MATH_FUNCTIONS = frozenset("""
    cos sin tan acos asin atan atan2 cosh sinh tanh acosh asinh atanh exp exp2 expm1 log
    log1p log2 log10 ldexp ilogb pow sqrt cbrt hypot ceil floor fmod trunc round rint
    lrint lround llround fabs fmax fmin fma fdim nan isnan isinf isfinite signbit copysign
    erf erfc tgamma lgamma abs min max
""".split())

_TOKEN_RE = re.compile(r"""
    (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[fFdDuUlL]*|0[xX][0-9a-fA-F]+[uUlL]*)
  | (?P<legacy>\$\(\s*[A-Za-z_]\w*\s*(?:,[^()]*(?:\([^()]*\)[^()]*)*)?\))
  | (?P<ident>[A-Za-z_]\w*)
  | (?P<newline>\n)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)


@dataclass(frozen=True)
class Token:
    kind: str       # comment, string, number, legacy, ident, newline, other
    text: str
    line: int       # 1-based line within the code string


def tokenize(code: str) -> list[Token]:
    """Split ``code`` into tokens, keeping every character (joining texts gives ``code``)."""
    tokens, line = [], 1
    for match in _TOKEN_RE.finditer(code):
        kind = match.lastgroup
        text = match.group()
        tokens.append(Token(kind, text, line))
        line += text.count("\n")
    return tokens


def _declared_locals(tokens: list[Token]) -> set[str]:
    """Names declared in the code itself (``scalar x = ...``, ``const int i``, ``for (int k``)."""
    declared = set()
    significant = [t for t in tokens if t.kind not in ("comment", "newline")
                   and not (t.kind == "other" and t.text.isspace())]
    for prev, tok in zip(significant, significant[1:]):
        if tok.kind == "ident" and prev.kind == "ident" and prev.text in C_KEYWORDS \
                and prev.text not in ("return", "else", "case", "goto", "sizeof", "true",
                                      "false", "do"):
            declared.add(tok.text)
    # comma-separated declarations: "scalar a = 1, b = 2;" (rare; accept names after ',')
    for i, tok in enumerate(significant[:-1]):
        if tok.kind == "other" and tok.text == "," and significant[i + 1].kind == "ident":
            j = i - 1
            depth = 0
            while j >= 0 and not (significant[j].kind == "other" and significant[j].text in ";{}"):
                if significant[j].text == ")":
                    depth += 1
                elif significant[j].text == "(":
                    depth -= 1
                j -= 1
            start = significant[j + 1] if j + 1 < len(significant) else None
            if depth == 0 and start is not None and start.kind == "ident" \
                    and start.text in C_KEYWORDS:
                declared.add(significant[i + 1].text)
    return declared


def identifiers(code: str) -> list[Token]:
    """Identifier tokens of ``code`` that are not keywords, maths functions or locals."""
    tokens = tokenize(code)
    local = _declared_locals(tokens)
    return [t for t in tokens if t.kind == "ident" and t.text not in C_KEYWORDS
            and t.text not in MATH_FUNCTIONS and t.text not in local]


def check_names(code: str, known: set[str] | frozenset[str], context: str) -> None:
    """Raise :class:`ModelDefinitionError` for the first unknown name in ``code``.

    ``context`` is ``"<model>.<field>"``; the message gives the line, the known names and a
    close match when there is one.
    """
    for token in identifiers(code):
        if token.text not in known:
            close = difflib.get_close_matches(token.text, sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ModelDefinitionError(
                f"[{context}, line {token.line}] unknown name '{token.text}'; known: "
                f"{', '.join(sorted(known))}{hint}")
    _check_brackets(code, context)


def _check_brackets(code: str, context: str) -> None:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[Token] = []
    for token in tokenize(code):
        if token.kind != "other":
            continue
        if token.text in "([{":
            stack.append(token)
        elif token.text in pairs:
            if not stack or stack[-1].text != pairs[token.text]:
                raise ModelDefinitionError(
                    f"[{context}, line {token.line}] unbalanced '{token.text}'")
            stack.pop()
    if stack:
        raise ModelDefinitionError(
            f"[{context}, line {stack[-1].line}] '{stack[-1].text}' is never closed")


def rewrite_legacy(code: str, context: str) -> str:
    """Rewrite GeNN 4's ``$(name)`` and ``$(func, args)`` to GeNN 5's plain names."""
    if "$(" not in code:
        return code
    out = []
    for token in tokenize(code):
        if token.kind == "legacy":
            inner = token.text[2:-1].strip()
            name, _, args = inner.partition(",")
            out.append(f"{name.strip()}({args.strip()})" if args else name.strip())
        else:
            out.append(token.text)
    warnings.warn(f"{context}: GeNN 4 '$(name)' syntax is deprecated; write plain names "
                  f"(GeNN 5 style). Rewritten automatically.", FutureWarning, stacklevel=4)
    return "".join(out)
