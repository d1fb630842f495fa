"""The bureau's static HTML report (and its PDF), built from the dbt marts: `write_report(warehouse)`."""

from junheng.report.alertstate import open_alerts
from junheng.report.data import ReportData, ReportError, load_report_data
from junheng.report.page import render_report, write_report

__all__ = ["write_report", "render_report", "load_report_data", "open_alerts", "ReportData", "ReportError"]
