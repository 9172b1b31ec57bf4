"""No private name crosses a boundary between delayprop's subpackages.

Checked from the source (AST), for every module of ``delayprop/``:

(a) an ``import`` / ``from ... import`` of a module of ANOTHER subpackage must not name a
    private module (``delayprop.compile._groups``) nor import a private name
    (``from delayprop.compile.model import _helper``);
(b) an attribute access ``obj._name`` (one leading underscore, not a dunder), where ``obj``
    is not ``self``/``cls``/``super()``, must not use a private name that only another
    subpackage defines (as a function, method, class attribute or ``self._name = ...``).
    A name that the accessing subpackage defines itself is taken as its own (a sound
    approximation: it never flags an access inside one subpackage).

Modules directly under ``delayprop/`` (``cli.py``, ``errors.py``, ...) belong to no
subpackage, so everything they import from a subpackage must be public too; the root's
own private modules (``delayprop._lazy``) are shared helpers and may be imported.
"""
from __future__ import annotations

import ast
from pathlib import Path

import delayprop

SUBPACKAGES = ("compile", "training", "data", "export", "analysis", "reference",
               "genn_models", "tools")

ROOT = Path(delayprop.__file__).resolve().parent


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__")) \
        and name != "_"


def _module_name(path: str) -> str:
    """``delayprop/compile/model.py`` -> ``delayprop.compile.model``."""
    parts = path[:-3].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _home(path: str) -> str:
    """The subpackage a module belongs to ('' for modules directly under delayprop/)."""
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[1] in SUBPACKAGES else ""


def _resolve(module: str | None, level: int, importer: str, is_package: bool) -> str:
    if not level:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _target(module: str) -> tuple[str, list[str]]:
    """``delayprop.compile._groups`` -> ('compile', ['_groups']); ('', []) outside."""
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "delayprop" or parts[1] not in SUBPACKAGES:
        return "", []
    return parts[1], parts[2:]


def _defined_private_names(tree: ast.AST) -> set[str]:
    """Private names a module defines: functions/methods, class-level assignments and
    ``self._x = ...`` / ``cls._x = ...`` attributes."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if _private(node.name):
                out.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for leaf in ast.walk(t):
                    if isinstance(leaf, ast.Name) and _private(leaf.id):
                        out.add(leaf.id)
                    elif isinstance(leaf, ast.Attribute) and _private(leaf.attr) \
                            and isinstance(leaf.value, ast.Name) \
                            and leaf.value.id in ("self", "cls"):
                        out.add(leaf.attr)
    return out


def _own_object(value: ast.AST) -> bool:
    if isinstance(value, ast.Name) and value.id in ("self", "cls"):
        return True
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) \
        and value.func.id == "super"


def scan(sources: dict[str, str]) -> list[str]:
    """Violations in ``sources`` (path relative to the repository, e.g.
    ``delayprop/training/x.py`` -> source text), one line each."""
    trees = {path: ast.parse(text, filename=path) for path, text in sources.items()}
    defined: dict[str, set[str]] = {}
    for path, tree in trees.items():
        defined.setdefault(_home(path), set()).update(_defined_private_names(tree))
    problems = []
    for path, tree in sorted(trees.items()):
        home = _home(path)
        importer = _module_name(path)
        is_package = path.endswith("__init__.py")
        foreign = set().union(*(names for sub, names in defined.items()
                                if sub and sub != home)) - defined.get(home, set())
        for node in ast.walk(tree):
            where = f"{path}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    sub, rest = _target(alias.name)
                    if sub and sub != home and any(_private(p) for p in rest):
                        problems.append(f"{where}: imports private module {alias.name}")
            elif isinstance(node, ast.ImportFrom):
                module = _resolve(node.module, node.level, importer, is_package)
                sub, rest = _target(module)
                if not sub or sub == home:
                    continue
                if any(_private(p) for p in rest):
                    problems.append(f"{where}: imports from private module {module}")
                for alias in node.names:
                    if _private(alias.name):
                        problems.append(f"{where}: imports private name {alias.name} "
                                        f"from {module}")
            elif isinstance(node, ast.Attribute) and node.attr in foreign \
                    and not _own_object(node.value):
                owners = sorted(sub for sub, names in defined.items()
                                if sub and sub != home and node.attr in names)
                problems.append(f"{where}: uses private attribute .{node.attr} defined in "
                                f"delayprop.{'/'.join(owners)}")
    return sorted(problems, key=lambda p: (p.split(":")[0], int(p.split(":")[1])))


def _package_sources() -> dict[str, str]:
    return {f"delayprop/{p.relative_to(ROOT).as_posix()}": p.read_text()
            for p in sorted(ROOT.rglob("*.py"))}


def test_no_private_name_crosses_a_subpackage_boundary():
    problems = scan(_package_sources())
    assert not problems, "private names cross package boundaries:\n" + "\n".join(problems)


def test_the_check_can_fail():
    sources = {
        "delayprop/compile/__init__.py": "",
        "delayprop/compile/_groups.py": "x = 1\n",
        "delayprop/compile/model.py": (
            "class Model:\n"
            "    def __init__(self):\n"
            "        self._runtime = None\n"
            "    def _hidden(self):\n"
            "        return self._runtime\n"       # own object: fine
            "def _helper():\n    pass\n"),
        "delayprop/training/__init__.py": "",
        "delayprop/training/net.py": (
            "import delayprop.compile._groups\n"                    # private module
            "from delayprop.compile._groups import x\n"             # private module
            "from delayprop.compile.model import Model, _helper\n"  # private name
            "from ..compile import _groups\n"                       # private module name
            "class Net:\n"
            "    def __init__(self, model):\n"
            "        self._mine = model._runtime\n"                 # foreign attribute
            "    def run(self, other):\n"
            "        return self._mine, other._mine, self.model._hidden()\n"),  # 1 foreign
        "delayprop/cli.py": "from delayprop.training.net import Net\n",     # public: fine
        "delayprop/graph.py": "from delayprop._lazy import lazy_exports\n",  # root: fine
    }
    problems = scan(sources)
    expected = [
        ("net.py:1", "private module delayprop.compile._groups"),
        ("net.py:2", "private module delayprop.compile._groups"),
        ("net.py:3", "private name _helper"),
        ("net.py:4", "private name _groups"),
        ("net.py:7", ".\u005fruntime"),
        ("net.py:9", "._hidden"),
    ]
    assert len(problems) == len(expected), problems
    for (where, what), line in zip(expected, problems):
        assert where in line and what in line, (where, what, line)
    # within one subpackage nothing is flagged
    assert scan({"delayprop/compile/a.py": "def _f():\n    pass\n",
                 "delayprop/compile/b.py": "from delayprop.compile.a import _f\n"
                                           "import delayprop.compile.a as a\na._f()\n"}) == []
