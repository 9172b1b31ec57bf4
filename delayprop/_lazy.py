"""Public names of a package imported on first use (PEP 562).

Keeps ``import delayprop.<package>`` — and the command line, which imports every
package — free of matplotlib/scipy/Brian2 start-up costs.
"""
from __future__ import annotations

import importlib
import sys


def lazy_exports(package: str, table: dict[str, tuple[str, str]], public: list[str]):
    """``(__getattr__, __dir__)`` for ``package``: ``table`` maps a public name to
    ``(module, attribute)``; a name is imported on first access and then cached in the
    package's namespace."""

    def __getattr__(name: str):
        try:
            module, attr = table[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), attr)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(public)

    return __getattr__, __dir__
