"""The report of a real warehouse, opened in headless Chromium (Debian's `chromium` package).

The warehouse is `generate_city(seed=5, schools=80)` through `junheng run --no-gx` and `dbt build`
(conftest.py). The page is then loaded from its file:// URL three ways:

- `--screenshot`: it renders (a PNG of the first 1280×2000 px, of a non-trivial size);
- `--dump-dom` with `--enable-logging=stderr`: the DOM after the inline script ran holds every chart
  (SVG ids, role=img, an accessible <title>), the matrix agrees with mart_district_attainment, and the
  browser logged no console message at all;
- the DevTools protocol (tests/junheng/report/_chromium.py, stdlib only): no uncaught exception, no console
  error or warning, no failed load, and every request the page made is the page itself (file://) —
  nothing else, with a host resolver that resolves nothing anyway. Its full-page screenshot is kept as
  test-artifacts/report.png (git-ignored) and in pytest's tmp.

Two control tests load deliberately broken pages and check that the same probes do catch a script
error, a console.error and an external request, so a silent Chromium cannot make these tests pass.
Chromium missing is a failure naming the package, never a skip.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import _chromium
import duckdb
import pytest
from _dom import parse

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"  # git-ignored; CI keeps it

pytestmark = [pytest.mark.slow]

CHARTS = ["chart-headline", "chart-city-share", "chart-c4", "chart-c10"]
LEVELS = ("primary", "junior")
INDICATORS = [f"R{i}" for i in range(1, 8)]


def test_chromium_is_installed():
    assert _chromium.chromium() == Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def marts(report_warehouse: Path) -> dict:
    con = duckdb.connect(str(report_warehouse / "junheng.duckdb"), read_only=True)
    try:
        attainment = con.execute(
            "select district_code, year, attained, failed_items from mart_district_attainment"
        ).fetchall()
        codes = sorted({r[0] for r in attainment})
        years = sorted({r[1] for r in attainment})
        balance = con.execute("select distinct year, level, indicator from mart_district_balance").fetchall()
        cur = con.execute("select * from mart_alerts")
        names = [d[0] for d in cur.description]
        alerts = [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()
    return {"attainment": attainment, "codes": codes, "years": years, "balance": balance, "alerts": alerts}


@pytest.fixture(scope="module")
def dumped(report_file: Path) -> dict:
    _chromium.chromium()
    start = time.perf_counter()
    run = _chromium.run_cli(
        ["--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000", "--dump-dom", report_file.as_uri()]
    )
    elapsed = time.perf_counter() - start
    assert run.returncode == 0, run.stderr[-3000:]
    return {"dom": parse(run.stdout), "html": run.stdout, "stderr": run.stderr, "elapsed": elapsed}


# the page's one interaction: "expand all years" opens every year's coefficient charts
EXPAND_ALL = """(() => {
  const closed = () => [...document.querySelectorAll('details.cv-year')].filter(d => !d.open).length;
  const before = closed();
  const button = document.getElementById('cv-toggle-all');
  if (!button || button.hidden) return {before, after: -1};
  button.click();
  return {before, after: closed(), pressed: button.getAttribute('aria-pressed')};
})()"""


@pytest.fixture(scope="module")
def devtools_run(report_file: Path, tmp_path_factory: pytest.TempPathFactory) -> _chromium.PageRun:
    _chromium.chromium()
    start = time.perf_counter()
    with _chromium.DevTools(width=1280, height=900) as browser:
        run = browser.load(report_file.as_uri(), probe=EXPAND_ALL)
    print(f"DevTools load + full-page screenshot: {time.perf_counter() - start:.1f} s, {run.size}")
    shot = tmp_path_factory.mktemp("report-shots") / "report.png"
    shot.write_bytes(run.screenshot)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "report.png")
    return run


# ---------------------------------------------------------------------------------------------------


def test_it_renders_a_screenshot(report_file: Path, tmp_path: Path):
    png = tmp_path / "report-viewport.png"
    run = _chromium.run_cli(["--window-size=1280,2000", f"--screenshot={png}", report_file.as_uri()])
    assert run.returncode == 0 and png.is_file(), run.stderr[-3000:]
    data = png.read_bytes()
    assert _chromium.png_size(data) == (1280, 2000)
    assert len(data) > 60_000, f"a {len(data)}-byte screenshot is too plain to be the report"


def test_full_page_screenshot_is_kept_as_an_artefact(devtools_run: _chromium.PageRun):
    width, height = _chromium.png_size(devtools_run.screenshot)
    assert width == 1280 and height == devtools_run.size[1] and height > 2500
    assert len(devtools_run.screenshot) > 200_000
    assert (ARTIFACTS / "report.png").read_bytes() == devtools_run.screenshot


def test_every_chart_is_in_the_rendered_dom_with_an_accessible_title(dumped: dict, marts: dict):
    dom = dumped["dom"]
    html = dom.find_all("html")[0]
    assert html.attrs.get("data-js") == "ready", "the inline script did not run to its end"
    latest = max(marts["years"])
    expected = list(CHARTS)
    expected += [f"spark-{kind}-{code}" for code in marts["codes"] for kind in ("failed", "ras")]
    expected += [f"cv-{y}-{level}-{ind}" for (y, level, ind) in marts["balance"]]
    assert {f"cv-{latest}-{level}-{ind}" for level in LEVELS for ind in INDICATORS} <= set(expected)
    svgs = {n.attrs.get("id"): n for n in dom.find_all("svg")}
    missing = [c for c in expected if c not in svgs]
    assert not missing, f"charts missing from the DOM: {missing[:10]}"
    for chart_id, svg in svgs.items():
        assert svg.attrs.get("role") == "img", chart_id
        first = svg.elements()[0]
        assert first.tag == "title" and first.text().strip(), chart_id
        assert svg.attrs.get("aria-labelledby") == first.attrs.get("id") == f"{chart_id}-title"
        assert dom.by_id(f"{chart_id}-desc") is not None
    # the charts draw something: bars, points, threshold lines
    assert len(svgs["chart-headline"].find_all("rect", class_="bar-attained")) == len(marts["years"])
    assert len(svgs["chart-city-share"].find_all("circle", class_="share-point")) == len(marts["years"])
    assert svgs["chart-city-share"].find_all("path", class_="target-step")
    for chart_id in ("chart-c4", "chart-c10"):
        assert svgs[chart_id].find_all("g", class_="threshold"), chart_id
    cv = svgs[f"cv-{latest}-primary-R1"]
    assert len(cv.find_all("rect", class_="cv-bar")) == len(marts["codes"]) and cv.find_all("g", class_="threshold")


def test_the_matrix_agrees_with_the_mart(dumped: dict, marts: dict):
    dom = dumped["dom"]
    matrix = dom.by_id("attainment-matrix")
    assert matrix is not None
    assert len(matrix.find_all("tbody")[0].find_all("tr")) == len(marts["codes"])
    state = {True: "pass", False: "fail", None: "undecided"}
    for code, year, attained, failed in marts["attainment"]:
        cells = matrix.find_all("td", data_district=code, data_year=str(year))
        assert len(cells) == 1, (code, year)
        cell = cells[0]
        assert state[attained] in cell.attrs["class"].split(), (code, year)
        assert set((cell.attrs.get("data-failed") or "").split()) == set(failed or []), (code, year)
        for rule_id in failed or []:
            assert rule_id in cell.attrs["title"], (code, year, rule_id)


def test_the_open_alerts_are_those_of_the_mart_or_none(dumped: dict, marts: dict, report_as_of):
    from junheng.report import open_alerts

    expected = [a["alert_id"] for a in open_alerts(marts["alerts"], report_as_of)]
    dom = dumped["dom"]
    if not expected:  # mart_alerts empty (or nothing firing): the section says so
        none = dom.by_id("alerts-none")
        assert none is not None and "none" in none.text() and dom.by_id("alerts-table") is None
    else:
        rows = dom.by_id("alerts-table").find_all("tr")[1:]
        assert [r.attrs.get("data-alert") for r in rows] == expected


def test_the_browser_logged_no_console_message(dumped: dict):
    assert _chromium.console_lines(dumped["stderr"]) == []


def test_expand_all_opens_every_year(devtools_run: _chromium.PageRun, marts: dict):
    years = len({y for (y, _, _) in marts["balance"]})
    assert devtools_run.probe == {"before": years - 1, "after": 0, "pressed": "true"}


def test_no_console_error_no_exception_and_no_request_but_the_page(devtools_run: _chromium.PageRun, report_file: Path):
    assert devtools_run.errors() == []
    assert devtools_run.requests == [report_file.as_uri()]


def test_the_file_references_nothing_outside_itself(report_file: Path, report_as_of):
    doc = parse(report_file.read_text(encoding="utf-8"))
    refs = [
        (n.tag, k, v)
        for n in doc.iter()
        for k, v in n.attrs.items()
        if k in ("src", "href", "xlink:href", "action", "poster", "data", "srcset", "background") and v
    ]
    outside = [r for r in refs if not r[2].startswith("#")]
    assert not outside, outside[:10]
    assert not doc.find_all("link") and not doc.find_all("iframe") and not doc.find_all("img")
    css = "".join(n.text() for n in doc.find_all("style"))
    assert "@import" not in css and "@font-face" not in css
    assert [u for u in re.findall(r"url\(([^)]*)\)", css) if not u.strip("'\" ").startswith("#")] == []
    assert f"As of {report_as_of}" in doc.text()


# ---------------------------------------------------------------------------------------------------
# the probes catch what they are meant to catch

BROKEN = """<!DOCTYPE html><html><body><p>broken</p>
<img src="https://cdn.example.com/logo.png" alt="">
<script>console.error("boom"); undefinedFunction();</script></body></html>"""


def test_control_the_command_line_probe_sees_console_messages(tmp_path: Path):
    page = tmp_path / "broken.html"
    page.write_text(BROKEN, encoding="utf-8")
    run = _chromium.run_cli(["--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()])
    lines = _chromium.console_lines(run.stderr)
    assert any("boom" in line for line in lines) and any("Uncaught" in line for line in lines), run.stderr[-2000:]


def test_control_the_devtools_probe_sees_errors_and_requests(tmp_path: Path):
    page = tmp_path / "broken.html"
    page.write_text(BROKEN, encoding="utf-8")
    with _chromium.DevTools() as browser:
        run = browser.load(page.as_uri(), full_page=False)
    errors = run.errors()
    assert any("undefinedFunction" in e for e in errors), errors
    assert any("boom" in e for e in errors), errors
    assert "https://cdn.example.com/logo.png" in run.requests, run.requests
