"""The embedded driver's school owners without its district states: ``state/school-owners.index``.

The school-owner check (streams/processing.py: a school registered in two districts is
dead-lettered) needs to know, for any school, which district registered it. The eager driver
read every district's state to learn it; a run that loads districts lazily (streams/file_states.py)
keeps this small index instead: for each district with a state file, the ids of its schools and
the identity of the file they were read from (inode, size, modification time in ns).

The index is written at a run's commit, through the run journal like the state files (staged
beside its file, renamed after them), so it describes the committed files. It is never trusted
blindly: when it is read, every state file whose identity differs from the one recorded -- a
warehouse written before the index existed, a commit killed between the renames, a state file
replaced by hand or by an older version of the driver -- is read again (its JSON only, no rules
engine) and its entry replaced; entries of files that are gone are dropped. A missing or
unreadable index is therefore rebuilt from the state files, and a stale one corrected, at the
cost of reading only the files that changed.

The owners are what the eager driver built from the states loaded in file-name order: a school
listed by two districts (possible only in a warehouse written before the check existed) belongs
to the first district by file name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from junheng.layout import WarehouseLayout

FORMAT = 1
Identity = tuple[int, int, int]  # inode, size, mtime in ns: a rename keeps all three


def identity(path: Path) -> Identity:
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class OwnersIndex:
    """District -> (state file identity, its school ids), read from and staged to the index file."""

    def __init__(self, layout: WarehouseLayout) -> None:
        self.layout = layout
        self.entries: dict[str, tuple[Identity, list[str]]] = {}
        self.changed = False  # entries differ from the index file: write it at the next commit
        self.files_read = 0  # state files read to correct the index (tests, benchmarks)

    def refresh(self, files: dict[str, Identity]) -> None:
        """Read the index file and make it agree with the state files `files` (code -> identity)."""
        self.entries = {}
        self.changed = False
        try:
            raw = json.loads(self.layout.school_owners_index.read_text(encoding="utf-8"))
            if raw.get("format") == FORMAT:
                self.entries = {code: (tuple(v["file"]), list(v["schools"])) for code, v in raw["districts"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.entries = {}  # missing or unreadable: rebuilt from the state files below
            self.changed = True
        for code in [c for c in self.entries if c not in files]:
            del self.entries[code]
            self.changed = True
        for code, ident in files.items():
            entry = self.entries.get(code)
            if entry is None or entry[0] != ident:
                self.entries[code] = (ident, self._schools_in(self.layout.state_file(code)))
                self.changed = True

    def _schools_in(self, path: Path) -> list[str]:
        self.files_read += 1
        with open(path, encoding="utf-8") as fh:
            return list(json.load(fh).get("schools", {}))

    def owners(self) -> dict[str, str]:
        """school id -> district, the first district by state file name winning (module docstring)."""
        out: dict[str, str] = {}
        for code in sorted(self.entries, key=lambda c: self.layout.state_file(c).name):
            for school_id in self.entries[code][1]:
                out.setdefault(school_id, code)
        return out

    def note(self, code: str, ident: Identity, schools: Iterable[str]) -> None:
        """A state file was staged with these schools (its temporary file's identity: the rename keeps it)."""
        self.entries[code] = (ident, list(schools))
        self.changed = True

    def stage(self) -> tuple[Path, Path] | None:
        """Write the index under its temporary name (fsynced) when it changed; (temporary, final)
        for the journal to rename after the state files, or None when the file is current."""
        if not self.changed:
            return None
        path = self.layout.school_owners_index
        tmp = self.layout.school_owners_index_tmp
        body: dict[str, Any] = {
            "format": FORMAT,
            "districts": {
                code: {"file": list(ident), "schools": schools}
                for code, (ident, schools) in sorted(self.entries.items())
            },
        }
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
            fh.flush()
            os.fsync(fh.fileno())
        return tmp, path

    def committed(self) -> None:
        """The staged index was renamed into place."""
        self.changed = False
