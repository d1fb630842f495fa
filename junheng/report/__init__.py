"""The bureau's static HTML report, built from the dbt marts: `write_report(warehouse)`."""
from junheng.report.report import ReportData, ReportError, load_report_data, open_alerts, render_report, write_report

__all__ = ["write_report", "render_report", "load_report_data", "open_alerts", "ReportData", "ReportError"]
