"""The warehouse's own dbt project: the package's project copied, its seeds rendered for the
warehouse's jurisdiction (catalogue and district list), so dbt runs there and the package is only
ever read.

    project = prepare(source, layout, render(catalogue, districts_csv))   # <warehouse>/work/dbt_project

Why a copy rather than the package's folder: an installed package must never be edited (it may be
read-only, and it serves every warehouse of the machine), and two warehouses may serve two cities
with two district lists or catalogues. Why only changed files are written: dbt's partial parse
(``<warehouse>/dbt-target/partial_parse.msgpack``) stays valid while the project's files keep their
content, so a build whose jurisdiction and package did not change parses nothing again.

The package's ``seeds/`` are not copied (they are the default jurisdiction's, committed for dbt
developers); dbt's output folders (``target``, ``logs``, ``dbt_packages``) and hidden files are
skipped. A file the package no longer has is removed from the copy, so a model deleted upstream is
not built on.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from junheng.layout import WarehouseLayout

__all__ = ["SKIPPED", "prepare"]

#: top-level folders of the package's project that are not copied
SKIPPED = frozenset({"seeds", "target", "logs", "dbt_packages"})


def _package_files(source: Path) -> dict[str, Path]:
    """Relative path → file, of what is copied from the package's project."""
    out: dict[str, Path] = {}
    for p in sorted(source.rglob("*")):
        rel = p.relative_to(source)
        if rel.parts[0] in SKIPPED or any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        if p.is_file():
            out[rel.as_posix()] = p
    return out


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def prepare(source: Path, layout: WarehouseLayout, seeds: Mapping[str, str]) -> tuple[Path, list[str]]:
    """Make ``layout.dbt_project`` the package's project ``source`` with ``seeds`` (file name →
    content, :func:`rules.seeds.render`) as its seeds. Returns the folder and the relative paths
    written or removed (empty: nothing changed)."""
    target = layout.dbt_project
    wanted: dict[str, bytes] = {rel: p.read_bytes() for rel, p in _package_files(source).items()}
    wanted.update({f"seeds/{name}": text.encode("utf-8") for name, text in seeds.items()})
    changed = [rel for rel, data in wanted.items() if _write_if_changed(target / rel, data)]
    for p in sorted(target.rglob("*"), reverse=True):   # deepest first: files, then emptied folders
        rel = p.relative_to(target)
        if rel.parts[0] in SKIPPED - {"seeds"}:
            continue
        if p.is_file() or p.is_symlink():
            if rel.as_posix() not in wanted:
                p.unlink()
                changed.append(rel.as_posix())
        elif p.is_dir() and not any(p.iterdir()):
            p.rmdir()
    return target, sorted(changed)
