"""Code-aware staleness: a hash of exactly the package modules that a subcommand runs.

Snakemake reruns a job when its params change, but it does not see the Python modules that a command imports. Each
rule therefore gets, as a param, a hash of the syntax trees of the modules that `chexpertnet <command>` imports,
followed transitively: absolute and relative imports, and the ``__init__.py`` of each package above an imported
module, which Python runs first (so a subpackage that re-exports its modules brings them all in). Comments,
docstrings and formatting do not count. The training also puts the same hash into
the fingerprint of its resume state, so a state made by other code is never resumed. Standard library only: the
Snakefile imports this module before any job runs.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE = "chexpertnet"


def module_file(source_dir: Path, name: str) -> Path:
    """The file of module ``name`` (dotted) under ``source_dir`` (the folder that holds the package)."""
    base = Path(source_dir).joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def is_package(source_dir: Path, name: str) -> bool:
    return module_file(source_dir, name).name == "__init__.py"


def absolute_module(source_dir: Path, name: str, node: ast.ImportFrom) -> str | None:
    """The dotted module that ``from <node.module> import ...`` in module ``name`` names (relative ones resolved the
    way Python does: ``.`` is the package that holds ``name``, or ``name`` itself if it is a package)."""
    if not node.level:
        return node.module
    package = name if is_package(source_dir, name) else name.rpartition(".")[0]
    parts = package.split(".")
    if node.level - 1 >= len(parts):
        raise ImportError(f"{name}: relative import beyond the top-level package (level {node.level})")
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def with_parents(source_dir: Path, name: str) -> set[str]:
    """``a.b.c`` -> {a, a.b, a.b.c}: importing a module runs the ``__init__.py`` of each package above it (a folder
    without one, a namespace package, runs nothing)."""
    parts = name.split(".")
    parents = {".".join(parts[:i]) for i in range(1, len(parts))}
    return {name} | {p for p in parents if module_file(source_dir, p).exists()}


def imported_modules(source_dir: Path, name: str) -> set[str]:
    """The package modules that module ``name`` imports (anywhere in it, function bodies included; absolute or
    relative), with the packages above each (whose ``__init__.py`` runs first)."""
    tree = ast.parse(module_file(source_dir, name).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            module = absolute_module(source_dir, name, node)
            if module is None or module.split(".")[0] != PACKAGE:
                continue
            found.add(module)
            for alias in node.names:  # `from chexpertnet import phantom`, `from . import canvas` import a module
                if module_file(source_dir, f"{module}.{alias.name}").exists():
                    found.add(f"{module}.{alias.name}")
    return {m for name in found for m in with_parents(source_dir, name)}


def module_closure(source_dir: Path, *names: str) -> list[str]:
    """``names`` and every package module they import, transitively (a subpackage's modules included)."""
    seen, todo = set(), [m for name in names for m in sorted(with_parents(source_dir, name))]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(imported_modules(source_dir, name) - seen)
    return sorted(seen)


def without_docstrings(path: Path) -> ast.Module:
    """The module's syntax tree without docstrings: editing documentation (or comments, or formatting, which the
    syntax tree never holds) changes no hash."""
    tree = ast.parse(Path(path).read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


def code_hash(command: str, source_dir: Path | None = None) -> str:
    """Hash of the modules that `chexpertnet <command>` runs, the CLI entry point included (16 hex digits).

    ``source_dir`` is the folder that holds the package; by default the one this module was imported from.
    """
    source_dir = Path(source_dir) if source_dir is not None else Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for name in module_closure(source_dir, f"{PACKAGE}.__main__", f"{PACKAGE}.commands.{command}"):
        digest.update(name.encode())
        digest.update(ast.dump(without_docstrings(module_file(source_dir, name))).encode())
    return digest.hexdigest()[:16]
