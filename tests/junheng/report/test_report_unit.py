"""The report builder on small hand-made warehouses (no dbt, no browser): empty marts, empty
mart_alerts, open-alert logic, escaping of everything that comes from the data, the CSP, errors."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from pathlib import Path

import pytest
from _dom import parse

from junheng.report import ReportError, open_alerts, write_report
from junheng.report.markup import Markup, el, esc, join

AS_OF = dt.date(2026, 6, 30)
EVIL = """<script>alert("x")</script> & "quoted" 'single' </td><img src=x onerror=alert(1)>"""


def _city(year, attained, total=2, target=0.0, on_track=True, **extra):
    return {
        "year": year,
        "districts_total": total,
        "districts_attained": attained,
        "districts_undecided": 0,
        "attained_share": attained / total,
        "target_share": target,
        "on_track": on_track,
        "c1_passed": on_track,
        "c4_value": 21.0,
        "c4_threshold": 20.0,
        "c4_passed": True,
        "c10_value": 12.0,
        "c10_threshold": 30.0,
        "c10_passed": None,
        **extra,
    }


def _attainment(code, name, year, attained, failed=(), undecided=()):
    return {
        "district_code": code,
        "district_name": name,
        "district_name_en": name + " (en)",
        "year": year,
        "resource_passed": attained,
        "government_passed": attained,
        "quality_passed": True,
        "social_passed": True,
        "prerequisite_passed": True,
        "vetoed": False,
        "attained": attained,
        "failed_items": list(failed),
        "undecided_items": list(undecided),
        "attainment_key": f"{code}-{year}",
    }


def _balance(code, year, level, indicator, cv, threshold, passed, reason=None):
    return {
        "district_code": code,
        "year": year,
        "level": level,
        "indicator": indicator,
        "sections": 4,
        "students": 1000,
        "weighted_mean": 1.0,
        "cv": cv,
        "threshold": threshold,
        "passed": passed,
        "comparator": "<=",
        "sections_missing_input": 0,
        "reason": reason,
        "rule_id": "RA-CV",
    }


def _small_city(evil_name: str = "市南区") -> dict:
    codes = [("370202", evil_name), ("370203", "市北区")]
    return {
        "mart_city_progress": [_city(2022, 0), _city(2023, 1, target=0.3, on_track=True)],
        "mart_district_attainment": [
            _attainment("370202", evil_name, 2022, False, failed=["G3", "RA-S", "<b>G10</b>"]),
            _attainment("370202", evil_name, 2023, True),
            _attainment("370203", "市北区", 2022, None, undecided=["G13"]),
            _attainment("370203", "市北区", 2023, False, failed=["Q4"]),
        ],
        "mart_district_accountability": [
            {
                "district_code": c,
                "district_name": n,
                "year": y,
                "declared_creation_year": 2023,
                "attained": None,
                "on_track": c == "370202",
                "behind_reasons": [] if c == "370202" else [EVIL],
                "as_of": AS_OF,
            }
            for c, n in codes
            for y in (2022, 2023)
        ],
        "mart_district_balance": [
            _balance("370202", 2023, "primary", "R1", 0.21, 0.5, True),
            _balance("370203", 2023, "primary", "R1", 0.61, 0.5, False, reason="CV 0.610 above 0.5"),
            _balance("370202", 2023, "junior", "R1", None, 0.45, None, reason=EVIL),
        ],
        "mart_school_section_status": [
            {
                "district_code": "370202",
                "school_id": "S1",
                "section": "primary",
                "year": 2023,
                "students": 300,
                "indicators_met": 7,
                "passed": True,
                "included": True,
            },
            {
                "district_code": "370202",
                "school_id": "S2",
                "section": "primary",
                "year": 2023,
                "students": 200,
                "indicators_met": 5,
                "passed": False,
                "included": True,
            },
        ],
    }


def _scripts_and_handlers(doc):
    scripts = doc.find_all("script")
    handlers = [n for n in doc.iter() if any(k.startswith("on") for k in n.attrs)]
    return scripts, handlers


# ---------------------------------------------------------------------------------------------------


def test_every_mart_empty_renders_with_no_data_and_no_alerts(mart_db):
    wh = mart_db()
    path = write_report(wh, as_of=AS_OF)
    assert path == wh / "report" / "index.html"
    doc = parse(path.read_text(encoding="utf-8"))
    for section in ("headline", "matrix", "balance", "city", "trends", "alerts"):
        assert doc.by_id(section) is not None, section
    assert "No data yet" in doc.by_id("headline").text()
    assert doc.by_id("alerts-none") is not None
    assert "none" in doc.by_id("alerts-none").text()


def test_empty_mart_alerts_beside_data_shows_none(mart_db):
    wh = mart_db(**_small_city())
    doc = parse(write_report(wh, as_of=AS_OF).read_text(encoding="utf-8"))
    none = doc.by_id("alerts-none")
    assert none is not None and "无 none" in none.text()
    assert doc.by_id("alerts-table") is None
    for chart_id in (
        "chart-headline",
        "chart-city-share",
        "chart-c4",
        "chart-c10",
        "cv-2023-primary-R1",
        "cv-2023-junior-R1",
        "spark-failed-370202",
        "spark-ras-370202",
    ):
        svg = doc.by_id(chart_id)
        assert svg is not None and svg.tag == "svg", chart_id
        assert svg.attrs["role"] == "img"
        title = svg.elements()[0]
        assert title.tag == "title" and title.attrs["id"] == svg.attrs["aria-labelledby"] and title.text().strip()
    # the matrix: each cell's failed ids are the mart's, in the standard's order
    cell = doc.find_all("td", data_district="370202", data_year="2022")[0]
    assert cell.attrs["data-failed"] == "RA-S G3 <b>G10</b>"
    assert "G3" in cell.attrs["title"] and "not attained" in cell.attrs["title"]
    assert "undecided" in doc.find_all("td", data_district="370203", data_year="2022")[0].attrs["class"]


def test_text_from_the_data_is_escaped_everywhere(mart_db):
    wh = mart_db(
        **_small_city(evil_name=EVIL),
        mart_alerts=[
            {
                "alert_id": "a1",
                "district_code": "370202",
                "rule_id": "<i>G3</i>",
                "severity": "critical",
                "state": "firing",
                "starts_at": dt.datetime(2026, 5, 1, 8),
                "summary": EVIL,
            }
        ],
    )
    text = write_report(wh, as_of=AS_OF).read_text(encoding="utf-8")
    assert "<img" not in text and "<script>alert" not in text
    assert "<b>G10</b>" not in text and "&lt;b&gt;G10&lt;/b&gt;" in text
    assert "<i>G3</i>" not in text
    doc = parse(text)
    scripts, handlers = _scripts_and_handlers(doc)
    assert len(scripts) == 1 and "data-js" in scripts[0].text()  # only the report's own script
    assert handlers == [] and doc.find_all("img") == []
    # the evil strings come back intact as text and attribute values, i.e. escaped, not dropped
    name_cells = [th for th in doc.find_all("th", class_="district") if EVIL in th.text()]
    assert len(name_cells) >= 2
    assert any(EVIL in (n.attrs.get("title") or "") for n in doc.iter())
    alert_row = doc.find_all("tr", data_alert="a1")[0]
    assert EVIL in alert_row.text() and "<i>G3</i>" in alert_row.text()
    assert any(EVIL in li.text() for li in doc.find_all("li"))  # behind reasons
    assert any(EVIL in (t.text()) for t in doc.find_all("title"))  # an SVG tooltip


def test_markup_builder_escapes_text_and_attributes():
    out = el("td", '<a href="x">&', title='"><script>', data_x="1 & 2", class_="c", hidden=True, skip=None)
    assert out == (
        '<td title="&quot;&gt;&lt;script&gt;" data-x="1 &amp; 2" class="c" hidden>'
        "&lt;a href=&quot;x&quot;&gt;&amp;</td>"
    )
    assert join("<", el("b", "x"), None, ["&", 1]) == "&lt;<b>x</b>&amp;1"
    assert esc(Markup("<b>")) == "<b>" and esc("<b>") == "&lt;b&gt;"
    assert el("input", type="checkbox", checked=True) == '<input type="checkbox" checked>'


def test_page_has_a_csp_that_allows_exactly_its_own_style_and_script(mart_db):
    text = write_report(mart_db(**_small_city()), as_of=AS_OF).read_text(encoding="utf-8")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
    assert "default-src 'none'" in csp
    for tag, directive in (("style", "style-src"), ("script", "script-src")):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp, tag
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)


def test_open_alerts_follow_the_latest_state_change():
    t = lambda d, h=0: dt.datetime(2026, 6, d, h)  # noqa: E731
    rows = [
        # a: fired, never resolved → open
        {"alert_id": "a", "state": "firing", "starts_at": t(1), "severity": "minor"},
        # b: fired then resolved → closed
        {"alert_id": "b", "state": "firing", "starts_at": t(2), "severity": "critical"},
        {"alert_id": "b", "state": "resolved", "starts_at": t(2), "ends_at": t(3), "severity": "critical"},
        # c: resolved then fired again → open
        {"alert_id": "c", "state": "firing", "starts_at": t(1), "severity": "major"},
        {"alert_id": "c", "state": "resolved", "starts_at": t(1), "ends_at": t(2), "severity": "major"},
        {"alert_id": "c", "state": "firing", "starts_at": t(5), "severity": "major"},
        # d: resolved after as_of → still open on as_of
        {"alert_id": "d", "state": "firing", "starts_at": t(10), "severity": "critical"},
        {
            "alert_id": "d",
            "state": "resolved",
            "starts_at": t(10),
            "ends_at": dt.datetime(2026, 7, 2),
            "severity": "critical",
        },
        # e: fires after as_of → not yet
        {"alert_id": "e", "state": "firing", "starts_at": dt.datetime(2026, 7, 1, 0, 0), "severity": "critical"},
        # f: fired and resolved at the same instant → closed
        {"alert_id": "f", "state": "firing", "starts_at": t(4), "severity": "major"},
        {"alert_id": "f", "state": "resolved", "starts_at": t(4), "ends_at": t(4), "severity": "major"},
    ]
    assert [a["alert_id"] for a in open_alerts(rows, AS_OF)] == ["d", "c", "a"]
    assert [a["alert_id"] for a in open_alerts(rows, None)] == ["e", "c", "a"]
    assert open_alerts([], AS_OF) == []
    assert [a["starts_at"] for a in open_alerts(rows, AS_OF) if a["alert_id"] == "c"] == [t(5)]


def test_open_alerts_are_listed_with_their_district(mart_db):
    wh = mart_db(
        **_small_city(),
        mart_alerts=[
            {
                "alert_id": "x1",
                "district_code": "370203",
                "rule_id": "Q4",
                "severity": "major",
                "state": "firing",
                "starts_at": dt.datetime(2026, 6, 1),
                "summary": "Q4 fails in 2023",
            },
            {
                "alert_id": "x2",
                "district_code": "370202",
                "rule_id": "G3",
                "severity": "minor",
                "state": "firing",
                "starts_at": dt.datetime(2026, 5, 1),
                "summary": "closed",
            },
            {
                "alert_id": "x2",
                "district_code": "370202",
                "rule_id": "G3",
                "severity": "minor",
                "state": "resolved",
                "starts_at": dt.datetime(2026, 5, 1),
                "ends_at": dt.datetime(2026, 5, 3),
                "summary": "closed",
            },
        ],
    )
    doc = parse(write_report(wh, as_of=AS_OF).read_text(encoding="utf-8"))
    assert doc.by_id("alerts-none") is None
    rows = doc.by_id("alerts-table").find_all("tr", data_alert="x1")
    assert len(rows) == 1 and "市北区" in rows[0].text() and "Q4 fails in 2023" in rows[0].text()
    assert doc.find_all("tr", data_alert="x2") == []


def test_custom_output_path_and_read_only_warehouse(mart_db, tmp_path):
    wh = mart_db(**_small_city())
    db = wh / "junheng.duckdb"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    out = write_report(wh, out=tmp_path / "elsewhere" / "r.html", as_of=AS_OF)
    assert out == tmp_path / "elsewhere" / "r.html" and out.stat().st_size > 10_000
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not (wh / "report").exists()
    assert not list(out.parent.glob("*.tmp"))
    assert f"As of {AS_OF}" in out.read_text(encoding="utf-8")


def test_missing_warehouse_or_mart_is_a_clear_error(mart_db, tmp_path):
    with pytest.raises(ReportError, match="no marts at"):
        write_report(tmp_path / "nowhere")
    import duckdb

    wh = mart_db()
    con = duckdb.connect(str(wh / "junheng.duckdb"))
    con.execute("drop table mart_alerts")
    con.close()
    with pytest.raises(ReportError, match="mart_alerts.*junheng build --warehouse"):
        write_report(wh)


def test_a_missing_chromium_fails_naming_the_debian_package(monkeypatch, tmp_path):
    import _chromium

    monkeypatch.setattr(_chromium, "CHROMIUM", tmp_path / "no-chromium")
    with pytest.raises(AssertionError, match=r"Debian's 'chromium' package.*apt-get install -y chromium"):
        _chromium.chromium()


def test_a_district_years_balance_rows_are_its_own_by_level_and_indicator():
    """ReportData.balance_of: what the district cards list (RA-CV reasons), indexed once instead
    of scanning every row per district (quadratic: minutes at national scale)."""
    from junheng.report.data import ReportData

    data = ReportData(warehouse=Path("."), as_of=dt.date(2026, 6, 30))
    rows = {
        (code, year, level, ind): {"district_code": code, "year": year, "level": level, "indicator": ind}
        for code in ("370203", "370202")
        for year in (2024, 2023)
        for level in ("junior", "primary")
        for ind in ("RA-CV-2", "RA-CV-1")
    }
    data.balance.update(rows)
    got = data.balance_of("370202", 2024)
    assert [(r["level"], r["indicator"]) for r in got] == [
        ("junior", "RA-CV-1"),
        ("junior", "RA-CV-2"),
        ("primary", "RA-CV-1"),
        ("primary", "RA-CV-2"),
    ]
    assert all(r["district_code"] == "370202" and r["year"] == 2024 for r in got)
    assert data.balance_of("370202", 2022) == [] and data.balance_of("999999", 2024) == []


def test_a_cv_chart_of_many_districts_draws_the_worst_and_counts_the_rest():
    """At national scale (2,800 districts, 70 charts) drawing every bar made a 100+ MiB page: over
    CV_BARS_MAX districts a chart draws the failing, then undecided, then highest passing ones, and
    counts the others under it; a city's districts are all drawn, in their own order."""
    from junheng.report.data import ReportData
    from junheng.report.sections.balance import CV_BARS_MAX, balance
    from junheng.report.sections.common import Ctx

    def data_of(n: int) -> ReportData:
        data = ReportData(warehouse=Path("."), as_of=AS_OF)
        data.thresholds = {"primary": 0.5}
        for i in range(n):
            code = f"9{i:05d}"
            data.districts.append({"code": code, "name_zh": f"区{i}", "name_en": f"D{i}"})
            # every 10th fails (CV above 0.5), every 25th is undecided, the rest pass with CV rising by i
            if i % 25 == 7:
                row = _balance(code, 2024, "primary", "R1", None, 0.5, None, reason="no value")
            elif i % 10 == 3:
                row = _balance(code, 2024, "primary", "R1", 0.6 + i / 10_000, 0.5, False)
            else:
                row = _balance(code, 2024, "primary", "R1", i / 1_000, 0.5, True)
            data.balance[(code, 2024, "primary", "R1")] = row
        return data

    n = CV_BARS_MAX * 3
    doc = parse(str(balance(Ctx(data_of(n)))))
    bars = doc.find_all("rect", class_="cv-bar")
    assert len(bars) == CV_BARS_MAX - 5  # the 5 undecided are drawn as text, not bars
    failing = [i for i in range(n) if i % 10 == 3 and i % 25 != 7]
    undecided = [i for i in range(n) if i % 25 == 7]
    passing = n - len(failing) - len(undecided)
    drawn_failing = [b for b in bars if b.attrs.get("data-passed") == "false"]
    assert len(drawn_failing) == len(failing)
    drawn_passing = CV_BARS_MAX - len(failing) - len(undecided)
    highest = sorted((i for i in range(n) if i % 10 != 3 and i % 25 != 7), reverse=True)[:drawn_passing]
    tips = " ".join(b.text() for b in bars if b.attrs.get("data-passed") == "true")
    assert all(f"9{i:05d}" in tips for i in highest)
    more = doc.find_all("p", class_="cv-more")
    assert len(more) == 1
    assert (
        f"{n - CV_BARS_MAX} more districts not drawn: {passing - drawn_passing} pass, 0 above threshold, "
        "0 undecided, 0 no data" in more[0].text()
    )

    small = parse(str(balance(Ctx(data_of(CV_BARS_MAX)))))
    assert not small.find_all("p", class_="cv-more")
    labels = [t.text() for t in small.find_all("text") if t.text().startswith("区")]
    assert labels == [f"区{i}" for i in range(CV_BARS_MAX)]  # every district, in its order
