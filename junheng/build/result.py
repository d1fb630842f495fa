"""What a build that succeeded did: :class:`BuildResult` (summary lines, JSON)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from junheng.build.export import ExportedMart

__all__ = ["BuildResult", "ExportedMart"]


@dataclass
class BuildResult:
    warehouse: str
    database: str               # the published version's database file (immutable)
    as_of: str
    catalogue: str
    timings: dict[str, float]
    dbt: dict[str, int]
    checkpoint: Any
    exports: dict[str, ExportedMart] = field(default_factory=dict)
    manifest: str | None = None  # the export's _manifest.json
    alerts: Any = None          # the AlertRun of the alert stage (None when it was off)
    report: str | None = None   # the report written from these marts (None when off)
    published: Any = None       # junheng.build.publish.Published
    plan: Any = None            # junheng.incremental.BuildPlan
    notes: list[str] = field(default_factory=list)
    jurisdiction: dict[str, Any] | None = None   # ingestion.jurisdiction.Jurisdiction.as_dict()
    project: str | None = None  # the warehouse's dbt project dbt ran in

    @property
    def success(self) -> bool:
        return True   # a build that did not succeed raised BuildError

    @property
    def version(self) -> int | None:
        return None if self.published is None else int(self.published.version)

    def summary(self) -> str:
        t = self.timings
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.dbt.items()))
        st = self.checkpoint.statistics
        lines = [
            f"build of {self.warehouse} passed in {t.get('total', 0):.1f} s "
            f"(as of {self.as_of}, catalogue {self.catalogue})",
        ]
        if self.jurisdiction is not None:
            from ingestion.jurisdiction import Jurisdiction

            lines.append(f"  jurisdiction: {Jurisdiction(**self.jurisdiction).describe()}")
        lines.append(f"  seeds rendered into {self.project or 'the dbt project'} ({t.get('seeds', 0):.1f} s)")
        if self.plan is not None:
            lines.append(f"  plan: {'full rebuild' if self.plan.full_refresh else 'incremental'} ({self.plan.reason})")
        lines += [
            f"  dbt build: {counts} ({t.get('dbt', 0):.1f} s)",
            f"  checkpoint {self.checkpoint.run_id}: {st['successful']} of {st['evaluated']} expectations met over "
            f"{st['suites']} marts ({t.get('checkpoint', 0):.1f} s)",
        ]
        if self.published is not None:
            p = self.published
            lines.append(f"  published version {p.version}: {len(p.marts)} marts, {sum(p.marts.values()):,} rows, "
                         f"to {p.database} ({t.get('publish', 0):.1f} s); readers open "
                         f"{self.warehouse}/junheng.duckdb")
            lines.append(f"  exported {len(self.exports)} marts as Parquet to {p.folder / 'export'} "
                         f"({t.get('export', 0):.1f} s)"
                         + (f"; removed versions {', '.join(map(str, p.pruned))}" if p.pruned else ""))
        if self.alerts is not None:
            a = self.alerts
            lines.append(f"  alerts: {len(a.firing)} firing ({len(a.fired)} new, {len(a.resolved)} resolved), "
                         f"{_delivery_words(a)} ({t.get('alerts', 0):.1f} s"
                         + (f"; mart_alerts made over the first history {t['dbt_alerts']:.1f} s)"
                            if "dbt_alerts" in t else ")"))
        if self.report:
            lines.append(f"  report: {self.report} ({t.get('report', 0):.1f} s)")
        if self.checkpoint.summary_page:
            lines.append(f"  checkpoint summary: {self.checkpoint.summary_page}")
        if self.checkpoint.data_docs_index:
            lines.append(f"  Data Docs: {self.checkpoint.data_docs_index}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": True,
            "warehouse": self.warehouse,
            "database": self.database,
            "as_of": self.as_of,
            "catalogue": self.catalogue,
            "jurisdiction": self.jurisdiction,
            "project": self.project,
            "timings": self.timings,
            "dbt": self.dbt,
            "plan": None if self.plan is None else {"full_refresh": self.plan.full_refresh, "reason": self.plan.reason},
            "checkpoint": {
                "run_id": self.checkpoint.run_id,
                "success": self.checkpoint.success,
                "statistics": self.checkpoint.statistics,
                "results_path": self.checkpoint.results_path,
                "summary_page": self.checkpoint.summary_page,
                "data_docs_index": self.checkpoint.data_docs_index,
            },
            "published": None if self.published is None else self.published.as_dict(),
            "exports": {k: {"path": v.path, "rows": v.rows} for k, v in self.exports.items()},
            "manifest": self.manifest,
            "alerts": None if self.alerts is None else {
                "firing": len(self.alerts.firing), "fired": len(self.alerts.fired),
                "resolved": len(self.alerts.resolved), "ok": self.alerts.ok,
                "deliveries": [d.as_dict() for d in self.alerts.deliveries], "errors": self.alerts.errors},
            "report": self.report,
            "notes": self.notes,
        }


def _delivery_words(run: Any) -> str:
    """How the alerts went out, in words: to which channels, and whether every delivery worked."""
    if not run.deliveries:
        receivers = getattr(run, "receivers", None)
        if receivers:
            return f"nothing new to deliver to {', '.join(receivers)}"
        return "no receiver configured (JUNHENG_ALERTMANAGER_URL, JUNHENG_ALERT_WEBHOOK_URL)"
    failed = [d for d in run.deliveries if not d.ok]
    sent = ", ".join(sorted({d.channel for d in run.deliveries}))
    return f"delivered to {sent}" if not failed else \
        f"delivery FAILED to {', '.join(sorted({d.channel for d in failed}))} (kept queued for the next run)"
