"""The build's report, rendered while the marts are published.

    draft = ReportDraft.start(warehouse, as_of, working_database)   # after the checkpoint passed
    published = publish(...)                                       # meanwhile
    path = draft.place(published.version)                           # after: the page, by one rename

Publishing (copying the marts, writing the export: DuckDB, which releases the GIL) and rendering
the page (pure Python) each took about ten seconds of a national correction's build, one after the
other; side by side they share the two cores. The page is rendered from the working database's
marts, which the checkpoint has just passed and which publishing copies unchanged, so it shows the
version being published. It is written only once that version is current: a build that publishes
nothing leaves the previous page, and :meth:`ReportDraft.discard` waits for the thread so that
nothing still reads the working database when the next build's dbt writes it.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

from junheng.build.errors import BuildError

__all__ = ["ReportDraft"]


class ReportDraft:
    """One page being rendered in a thread of the builder."""

    def __init__(self, warehouse: Path, as_of: dt.date, database: Path) -> None:
        self.warehouse = warehouse
        self.as_of = as_of
        self.database = database
        self.html: str | None = None
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._render, name="junheng-report", daemon=True)

    @classmethod
    def start(cls, warehouse: Path, as_of: dt.date, database: Path) -> ReportDraft:
        draft = cls(warehouse, as_of, database)
        draft._thread.start()
        return draft

    def _render(self) -> None:
        t = time.perf_counter()
        try:
            from junheng.report.page import report_html

            self.html = report_html(self.warehouse, self.as_of, database=self.database)
        except BaseException as exc:   # handed to the build, which reports it as the report stage's
            self.error = exc
        finally:
            self.seconds = time.perf_counter() - t

    def discard(self) -> None:
        """The build publishes nothing: wait for the thread (it reads the working database) and
        drop the page."""
        self._thread.join()
        self.html = None

    def place(self, version: int) -> tuple[str, float]:
        """Wait for the page and write it, once `version` is published. Returns the path and the
        seconds the build waited for the page after publishing; raises :class:`BuildError`."""
        t = time.perf_counter()
        self._thread.join()
        waited = time.perf_counter() - t
        try:
            if self.error is not None:
                raise self.error
            if self.html is None:
                raise RuntimeError("the page was not rendered")
            from junheng.report.page import place_report

            return str(place_report(self.html, self.warehouse)), waited
        except Exception as exc:   # the render's error, or writing the page (OSError)
            raise BuildError("report", f"version {version} of the marts was published, but the report could not be "
                                       f"written: {type(exc).__name__}: {exc}") from exc
        finally:
            self.html = None
