"""Run the rules engine's hot-path modules compiled by mypyc, when a fresh build exists.

The source of truth is always `rules/*.py`: `scripts/compile-rules.sh` compiles a *copy* into
`build/compiled/` and records a digest of the sources it compiled. The drivers call
:func:`install` before anything imports `rules`; it puts an import finder in front that loads
`rules.<module>` from the compiled copy only if that digest equals the digest of today's
sources. An edited source file therefore never runs as an old binary: the engine falls back to
pure Python and says why. The results are the same either way (tests/rules/test_compiled.py
replays the synthetic city through both); the compiled one is 1.4–1.6x faster.

`JUNHENG_ENGINE=pure` turns the compiled engine off; `=compiled` makes a missing or stale build
an error instead of a fallback.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = PROJECT_ROOT / "build" / "compiled"
DIGEST_FILE = "SOURCE_DIGEST"

#: the modules scripts/compile-rules.sh compiles (the per-event hot path): these, and every module
#: of the rule kinds' package rules/kinds/ but its __init__ (the script compiles rules/kinds/[!_]*.py)
COMPILED_MODULES: tuple[str, ...] = (
    "logic",
    "moments",
    "sections",
    "contributions",
    "district",
    "state",
    "facts",
    "model",
) + tuple(f"kinds.{p.stem}" for p in sorted((PROJECT_ROOT / "rules" / "kinds").glob("[!_]*.py")))

_status: str | None = None


def source_digest(source_dir: Path | None = None) -> str:
    """sha256 over every `rules/**/*.py` (paths and bytes): a change to any module, compiled or
    not, invalidates the build, since compiled modules inline what they import."""
    src = source_dir or PROJECT_ROOT / "rules"
    h = hashlib.sha256()
    for path in sorted(src.rglob("*.py")):
        h.update(path.relative_to(src).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def build_state(build_dir: Path = BUILD_DIR) -> tuple[bool, str]:
    """(usable, why): whether build_dir holds a build of today's sources for this interpreter."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    digest_path = build_dir / DIGEST_FILE
    if not digest_path.is_file():
        return False, f"no compiled build in {build_dir} (scripts/compile-rules.sh)"
    missing = [m for m in COMPILED_MODULES if not (build_dir / "rules" / f"{m.replace('.', '/')}{suffix}").is_file()]
    if missing:
        return False, f"compiled build lacks {', '.join(missing)} for {suffix}"
    if digest_path.read_text(encoding="utf-8").strip() != source_digest():
        return False, "compiled build is stale (rules/ changed since it was built; scripts/compile-rules.sh)"
    return True, "fresh"


class _CompiledRulesFinder(importlib.abc.MetaPathFinder):
    """Finds `rules.<m>` for the compiled modules in the build directory; everything else
    (the package itself, the catalogue loader, batch, city, ...) comes from the sources."""

    def __init__(self, build_dir: Path, modules: Sequence[str]) -> None:
        self.build_dir = build_dir
        self.names = {f"rules.{m}" for m in modules}
        self.suffix = importlib.machinery.EXTENSION_SUFFIXES[0]

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        *package, name = fullname.split(".")
        so = self.build_dir.joinpath(*package, name + self.suffix)
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(so))
        return importlib.util.spec_from_file_location(fullname, so, loader=loader)


def install(build_dir: Path = BUILD_DIR) -> str:
    """Use the compiled engine if possible; returns "mypyc" or "pure Python (<why>)".

    Must run before the first import of any `rules` module: a compiled module importing a
    pure one that is already loaded (or the reverse) would mix the two builds."""
    global _status
    if _status is not None:
        return _status
    from junheng.settings import Settings

    mode = Settings.from_env().engine  # raises for a value other than auto, pure or compiled
    if mode == "pure":
        _status = "pure Python (JUNHENG_ENGINE=pure)"
        return _status
    loaded = sorted(n for n in sys.modules if n == "rules" or n.startswith("rules."))
    usable, why = build_state(build_dir)
    if usable and any(n.split(".", 1)[-1] in COMPILED_MODULES for n in loaded if "." in n):
        usable, why = False, f"rules modules were imported before the compiled engine could be installed: {loaded}"
    if not usable:
        if mode == "compiled":
            raise RuntimeError(f"JUNHENG_ENGINE=compiled but {why}")
        _status = f"pure Python ({why})"
        return _status
    # the mypyc runtime shared by the compiled modules is a top-level extension module
    if str(build_dir) not in sys.path:
        sys.path.append(str(build_dir))
    sys.meta_path.insert(0, _CompiledRulesFinder(build_dir, COMPILED_MODULES))
    _status = "mypyc"
    return _status


def engine_kind() -> str:
    """What the `rules` modules loaded in this process are: "mypyc" or "pure Python"."""
    state = sys.modules.get("rules.state")
    return (
        "mypyc"
        if state is not None
        and str(getattr(state, "__file__", "")).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
        else "pure Python"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m junheng.compiled_engine [--check | --write-digest DIR]`: exit 0 when the build is
    fresh (bootstrap uses it to decide whether to compile); --write-digest stamps a build made
    from the sources copied into DIR/rules."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m junheng.compiled_engine")
    parser.add_argument("--check", action="store_true", help="exit 1 unless the compiled build is fresh")
    parser.add_argument("--write-digest", metavar="DIR", help="stamp DIR as built from DIR/rules/*.py")
    args = parser.parse_args(argv)
    if args.write_digest:
        out = Path(args.write_digest)
        (out / DIGEST_FILE).write_text(source_digest(out / "rules") + "\n", encoding="utf-8")
        return 0
    usable, why = build_state()
    print(f"compiled engine: {'fresh' if usable else why}")
    return 0 if usable else 1


if __name__ == "__main__":
    raise SystemExit(main())
