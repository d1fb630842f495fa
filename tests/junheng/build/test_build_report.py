"""The build's report stage: the page is rendered while the marts are published
(junheng/build/report_stage.py), written only once they are, and never left reading the working
database after the build."""
from __future__ import annotations

import threading

import pytest

from junheng.build import BuildError, build
from junheng.build.publish import PublishError, current_version
from junheng.layout import WarehouseLayout

AS_OF_TEXT = "2026-06-30"


def _report_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "junheng-report"]


def test_the_page_is_rendered_while_the_marts_are_published(built_copy, monkeypatch):
    """Publish waits (on a condition, at most a minute) for the page's rendering to begin: it can
    begin only if the two run side by side. The page is written after the version is current."""
    import junheng.build.pipeline as pipeline
    import junheng.report.page as page

    wh = built_copy()
    layout = WarehouseLayout(wh)
    rendering = threading.Event()
    seen: dict[str, object] = {}
    real_html, real_publish = page.report_html, pipeline.publish

    def report_html(*args, **kwargs):
        rendering.set()
        return real_html(*args, **kwargs)

    def publish(*args, **kwargs):
        seen["rendering_during_publish"] = rendering.wait(60)
        seen["report_before_switch"] = layout.report.stat().st_mtime_ns
        return real_publish(*args, **kwargs)

    monkeypatch.setattr(page, "report_html", report_html)
    monkeypatch.setattr(pipeline, "publish", publish)
    result = build(wh, as_of=pipeline.dt.date.fromisoformat(AS_OF_TEXT))
    assert seen["rendering_during_publish"] is True
    assert current_version(layout) == 2 and result.report == str(layout.report)
    assert layout.report.stat().st_mtime_ns > seen["report_before_switch"]   # written after publishing
    assert "mart_district_balance" in layout.report.read_text(encoding="utf-8")
    assert result.timings["report"] > 0 and result.timings["report_wait"] >= 0
    assert _report_threads() == []


def test_a_build_that_publishes_nothing_leaves_the_previous_page(built_copy, monkeypatch):
    import junheng.build.pipeline as pipeline

    wh = built_copy()
    layout = WarehouseLayout(wh)
    before = layout.report.read_bytes()

    def publish(*args, **kwargs):
        raise PublishError("publish", "planted: the disk is full")

    monkeypatch.setattr(pipeline, "publish", publish)
    with pytest.raises(PublishError, match="planted"):
        build(wh, as_of=pipeline.dt.date.fromisoformat(AS_OF_TEXT))
    assert current_version(layout) == 1 and layout.report.read_bytes() == before
    assert _report_threads() == []   # nothing reads the working database once the build is over


def test_a_page_that_cannot_be_rendered_fails_the_report_stage_after_publishing(built_copy, monkeypatch):
    import junheng.build.pipeline as pipeline
    import junheng.report.page as page

    wh = built_copy()
    layout = WarehouseLayout(wh)
    before = layout.report.read_bytes()

    def report_html(*args, **kwargs):
        raise ValueError("planted: a mart the page cannot read")

    monkeypatch.setattr(page, "report_html", report_html)
    with pytest.raises(BuildError) as caught:
        build(wh, as_of=pipeline.dt.date.fromisoformat(AS_OF_TEXT))
    assert caught.value.stage == "report"
    assert "version 2 of the marts was published" in str(caught.value) and "planted" in str(caught.value)
    assert current_version(layout) == 2 and layout.report.read_bytes() == before
    assert "report" in caught.value.timings and _report_threads() == []
