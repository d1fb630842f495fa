"""`junheng report --pdf` on the real demo warehouse, printed by Debian's headless Chromium and read back
with Debian's poppler-utils (`pdfinfo`, `pdftoppm`, `pdftotext`).

The warehouse is `junheng demo` (conftest.py: 200 schools, deadlines and alerts judged on 2026-06-30).
The PDF must have pages; every page, rendered to a grey image, must not be blank (its pixels vary);
its text layer must hold the Chinese section titles, a failing school's name as the marts have it,
and a reason in words with its gap. The pages (PNG), the PDF itself, a screenshot of the HTML and
one of a district's card are kept in test-artifacts/report/ (git-ignored; CI keeps it), which
docs/report.md shows. Chromium or poppler missing is a failure naming the package, never a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import _chromium
import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "report"  # git-ignored; CI keeps it
AS_OF = "2026-06-30"
TITLES = [
    "青岛市义务教育优质均衡发展监测报告",
    "总览：达标区县与规划目标",
    "区县详情：需要采取的行动",
    "区县达标矩阵",
    "校际差异系数（RA-CV）",
    "全市规划目标进展",
    "区县趋势",
    "未解除告警",
]

pytestmark = [pytest.mark.slow]


def _poppler(tool: str) -> str:
    found = shutil.which(tool)
    assert found, f"{tool} is missing: install Debian's 'poppler-utils' package (scripts/system-deps.sh installs it)"
    return found


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(env or os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "junheng.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def printed(demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    _chromium.chromium()
    out = tmp_path_factory.mktemp("report-pdf")
    html, pdf = out / "report.html", out / "report.pdf"
    run = _cli("report", "--warehouse", str(demo_warehouse), "--as-of", AS_OF, "--out", str(html), "--pdf", str(pdf))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"PDF written to {pdf}" in run.stdout and html.is_file() and pdf.is_file()
    assert not list(out.glob("*.tmp"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("pdf-page-*.png"):
        old.unlink()
    shutil.copyfile(pdf, ARTIFACTS / "report.pdf")
    shutil.copyfile(html, ARTIFACTS / "report.html")
    return {"html": html, "pdf": pdf, "out": out}


@pytest.fixture(scope="module")
def failing_school(demo_warehouse: Path) -> str:
    con = duckdb.connect(str(demo_warehouse / "junheng.duckdb"), read_only=True)
    try:
        row = con.execute("""
            select school_name from mart_school_section_status
            where passed = false and year = (select max(year) from mart_district_attainment)
            order by school_name limit 1""").fetchone()
    finally:
        con.close()
    assert row, "the demo city has no failing section in its latest year: nothing to look for"
    return str(row[0])


def _pages(pdf: Path) -> int:
    info = subprocess.run([_poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split(":", 1)[1] for line in info.splitlines() if line.startswith("Pages:")))


def _pgm(path: Path) -> tuple[int, int, bytes]:
    """A binary PGM (P5, 8-bit) as pdftoppm -gray writes it: width, height, pixels."""
    data = path.read_bytes()
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:  # magic, width, height, maxval
        while data[pos : pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    assert fields[0] == b"P5" and fields[3] == b"255", fields
    width, height = int(fields[1]), int(fields[2])
    pixels = data[pos + 1 : pos + 1 + width * height]
    assert len(pixels) == width * height
    return width, height, pixels


def _variance(pixels: bytes) -> float:
    n = len(pixels)
    mean = sum(pixels) / n
    return sum((p - mean) ** 2 for p in pixels) / n


# ---------------------------------------------------------------------------------------------------


def test_the_pdf_has_pages_and_none_is_blank(printed: dict):
    pdf = printed["pdf"]
    pages = _pages(pdf)
    assert pages >= 1
    grey = printed["out"] / "grey"
    grey.mkdir()
    subprocess.run([_poppler("pdftoppm"), "-gray", "-r", "30", str(pdf), str(grey / "p")], check=True)
    images = sorted(grey.glob("p-*.pgm"))
    assert len(images) == pages
    variances = []
    for image in images:
        width, height, pixels = _pgm(image)
        assert (width, height) in ((248, 351), (248, 350), (249, 351)), f"{image.name} is not A4: {width}×{height}"
        variances.append(_variance(pixels))
    blank = [i + 1 for i, v in enumerate(variances) if v < 5.0]
    assert not blank, f"blank pages {blank} (pixel variance {[round(v, 1) for v in variances]})"
    assert variances[0] > 300, f"the first page is too plain to be the headline: variance {variances[0]:.0f}"
    # the pages as PNG, kept for people to look at
    subprocess.run([_poppler("pdftoppm"), "-png", "-r", "60", str(pdf), str(ARTIFACTS / "pdf-page")], check=True)
    pngs = sorted(ARTIFACTS.glob("pdf-page-*.png"))
    assert len(pngs) == pages
    for png in pngs:
        assert _chromium.png_size(png.read_bytes())[0] in (496, 497)  # A4 at 60 dpi: 8.27 in


def test_the_text_layer_has_the_chinese_titles_a_school_and_a_gap(printed: dict, failing_school: str):
    text = subprocess.run(
        [_poppler("pdftotext"), "-layout", str(printed["pdf"]), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = "".join(text.split())  # pdftotext may break a line inside a title
    missing = [t for t in TITLES if "".join(t.split()) not in flat]
    assert not missing, f"section titles missing from the PDF's text: {missing}"
    assert "".join(failing_school.split()) in flat, f"the failing school {failing_school} is not in the PDF"
    assert "差" in flat and ("元" in flat or "人" in flat or "m²" in flat), "no gap in words with a unit"
    assert "stat.teacher_avg_pay_yuan" not in flat and "e+05" not in flat, "an engine reason was printed raw"


def test_screenshots_of_the_html_are_kept(printed: dict):
    full = ARTIFACTS / "html.png"
    run = _chromium.run_cli(["--window-size=1280,1600", f"--screenshot={full}", printed["html"].as_uri()])
    assert run.returncode == 0 and full.is_file(), run.stderr[-3000:]
    assert _chromium.png_size(full.read_bytes()) == (1280, 1600) and full.stat().st_size > 60_000
    # one district's card, the part an official acts on, clipped from the full page
    probe = """(() => { const card = document.querySelector('article.district-card');
        if (!card) return null; const r = card.getBoundingClientRect();
        return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: Math.min(r.height, 1400),
                code: card.dataset.district}; })()"""
    with _chromium.DevTools(width=1100, height=900) as browser:
        run_page = browser.load(printed["html"].as_uri(), probe=probe)
        box = run_page.probe
        assert box is not None, "no district card in the page"
        shot = browser.page(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={**{k: box[k] for k in ("x", "y", "width", "height")}, "scale": 1},
        )
    import base64

    card = ARTIFACTS / "html-district.png"
    card.write_bytes(base64.b64decode(shot["data"]))
    width, height = _chromium.png_size(card.read_bytes())
    assert width == round(box["width"]) and height == round(box["height"]) and height > 200
    assert not run_page.errors(), run_page.errors()
    (ARTIFACTS / "html-district.json").write_text(json.dumps(box), encoding="utf-8")


def test_a_missing_chromium_is_one_line_and_exit_2(tmp_path: Path):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))  # the venv only: no chromium on it
    run = _cli("report", "--warehouse", str(tmp_path / "wh"), "--pdf", env=env)
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "chromium is missing" in lines[0] and "scripts/system-deps.sh" in lines[0], lines
    assert "Traceback" not in run.stderr and not (tmp_path / "wh").exists()
