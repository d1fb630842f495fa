"""The date and date-time formats: a strict, fast RFC 3339 profile every consumer can parse."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.contract.formats import is_date, is_datetime, parse_datetime


@pytest.mark.parametrize(
    "value",
    [
        "2024-09-15T08:30:00Z",
        "2024-09-15T08:30:00+08:00",
        "2024-09-15T08:30:00-00:00",
        "2024-09-15T08:30:00.5Z",
        "2024-09-15T08:30:00.123456789+23:59",
        "2024-02-29T00:00:00Z",
    ],
)
def test_datetime_accepts(value: str) -> None:
    assert is_datetime(value)
    assert parse_datetime(value).tzinfo is not None


@pytest.mark.parametrize(
    "value",
    [
        "2024-09-15T08:30:00",  # no offset: naive
        "2024-09-15 08:30:00Z",  # space separator
        "2024-09-15t08:30:00z",  # lower case
        "2024-09-15T08:30Z",  # no seconds
        "2024-09-15T24:00:00Z",
        "2024-09-15T23:60:00Z",
        "2024-09-15T23:59:60Z",  # leap second: Python cannot hold it
        "2023-02-29T00:00:00Z",
        "2024-09-15T08:30:00+24:00",
        "2024-09-15T08:30:00+08:60",
        "2024-09-15T08:30:00.1234567890Z",  # 10 fraction digits
        "2024-09-15T08:30:00.Z",
        "2024-09-15T08:30:00Z\n",
        "２０２４-09-15T08:30:00Z",  # full-width digits
        "",
    ],
)
def test_datetime_rejects(value: str) -> None:
    assert not is_datetime(value)


@pytest.mark.parametrize("value", ["2024-09-15", "2024-02-29", "0001-01-01", "9999-12-31"])
def test_date_accepts(value: str) -> None:
    assert is_date(value)


@pytest.mark.parametrize(
    "value",
    [
        "20240915",
        "2024-W37-7",
        "2024-9-15",
        "2023-02-29",
        "2024-13-01",
        "0000-01-01",
        "2024-09-15\n",
        "",
    ],
)
def test_date_rejects(value: str) -> None:
    assert not is_date(value)


def test_non_strings_are_left_to_the_type_keyword() -> None:
    assert is_date(5) and is_datetime(None)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.just(UTC),
    ),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)
def test_isoformat_round_trip(moment: datetime, offset_minutes: int) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    text = local.isoformat()
    assert is_datetime(text), text
    assert parse_datetime(text) == local
    assert is_date(local.date().isoformat())


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789-:T.Z+ tz", max_size=40))
def test_whatever_is_accepted_parses_and_is_aware(text: str) -> None:
    if is_datetime(text):
        assert parse_datetime(text).tzinfo is not None
    if is_date(text):
        assert date.fromisoformat(text)
