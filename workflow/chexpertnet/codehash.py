"""Code-aware staleness: a hash of exactly the package modules that a subcommand runs.

Snakemake reruns a job when its params change, but it does not see the Python modules that a command imports. Each
rule therefore gets, as a param, a hash of the syntax trees of the modules that `chexpertnet <command>` imports,
followed transitively (comments, docstrings and formatting do not count). The training also puts the same hash into
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


def imported_modules(source_dir: Path, name: str) -> set[str]:
    """The package modules that module ``name`` imports (anywhere in it, function bodies included)."""
    tree = ast.parse(module_file(source_dir, name).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            found.add(node.module)
            for alias in node.names:  # `from chexpertnet import phantom` imports a module
                if module_file(source_dir, f"{node.module}.{alias.name}").exists():
                    found.add(f"{node.module}.{alias.name}")
    return found


def module_closure(source_dir: Path, *names: str) -> list[str]:
    seen, todo = set(), list(names)
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
