"""The report as a PDF, printed by Debian's headless Chromium (`apt-get install chromium`).

Why Chromium: the page is already laid out for print by its own stylesheet (`@page A4`, `@media
print`), with Chinese text and inline SVG; a browser prints exactly that, where an HTML-to-PDF library
would re-implement the layout (and most do not shape CJK or SVG). Chromium runs headless with a
throw-away profile, no sandbox (root in containers), no GPU, and a host resolver that resolves
nothing, so printing can never reach a network (the page's CSP forbids it anyway).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from junheng.report.data import ReportError

__all__ = ["PdfError", "find_chromium", "html_to_pdf", "MISSING"]

MISSING = "chromium is missing: install Debian's 'chromium' package (scripts/system-deps.sh installs it)"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
    "--virtual-time-budget=5000",
]


class PdfError(ReportError):
    """Chromium is missing or could not print the page (one line, exit 2)."""


def find_chromium() -> Path:
    """Debian's `chromium` on PATH (/usr/bin); PdfError naming the package when absent."""
    found = shutil.which("chromium")
    if not found:
        raise PdfError(MISSING)
    return Path(found)


def html_to_pdf(html_file: Path, pdf_file: Path, *, timeout: float = 180) -> Path:
    """Print `html_file` to `pdf_file` (written beside as .tmp, then renamed). Returns `pdf_file`."""
    browser = find_chromium()
    html_file, pdf_file = Path(html_file).resolve(), Path(pdf_file)
    pdf_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = pdf_file.with_name(pdf_file.name + ".tmp")
    # helper processes may still be writing the profile as the browser exits
    with tempfile.TemporaryDirectory(prefix="junheng-chromium-", ignore_cleanup_errors=True) as profile:
        cmd = [str(browser), *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={tmp}", html_file.as_uri()]
        try:
            run = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, LANG="C.UTF-8")
            )
        except subprocess.TimeoutExpired as exc:
            tmp.unlink(missing_ok=True)
            raise PdfError(f"chromium did not print {html_file} within {timeout:.0f} s") from exc
    if run.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise PdfError(f"chromium could not print {html_file} (exit {run.returncode}): {last}")
    tmp.replace(pdf_file)
    return pdf_file
