"""Same seed, same bytes: the demo, the tests and the benchmarks must see identical streams."""

from __future__ import annotations

from pathlib import Path

from ingestion.synthetic import CityStream, generate_city, write_city

NOISY = dict(bad_fraction=0.02, duplicate_fraction=0.02, stale_fraction=0.02)


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a = generate_city(seed=7, schools=300, **NOISY)
    b = generate_city(seed=7, schools=300, **NOISY)
    assert a.lines == b.lines
    assert a.manifest == b.manifest
    a.write_jsonl(tmp_path / "a.jsonl")
    b.write_jsonl(tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_other_seed_gives_other_stream() -> None:
    assert generate_city(seed=7, schools=300).lines != generate_city(seed=8, schools=300).lines


def test_streaming_writer_matches_in_memory_city(tmp_path: Path) -> None:
    city = generate_city(seed=11, schools=300, **NOISY)
    manifest = write_city(tmp_path / "s.jsonl", seed=11, schools=300, **NOISY)
    assert (tmp_path / "s.jsonl").read_bytes() == b"".join(line + b"\n" for line in city.lines)
    assert manifest == city.manifest
    stream = CityStream(seed=11, schools=300, **NOISY)
    assert [line for line, _ in stream] == city.lines
    assert stream.manifest == city.manifest


def test_bad_lines_and_duplicates_do_not_change_valid_content() -> None:
    """Noise has its own random streams: strip it and the clean stream remains, byte for byte."""
    clean = generate_city(seed=5, schools=300)
    noisy = generate_city(seed=5, schools=300, bad_fraction=0.05, duplicate_fraction=0.05)
    kept = [line for i, line in enumerate(noisy.lines) if noisy.category(i) == "valid"]
    assert kept == clean.lines
    assert noisy.manifest["bad_total"] > 0 and noisy.manifest["duplicates"] > 0
