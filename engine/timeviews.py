"""Which quantum views cover a time range [from, to) — FeatureBase's viewsByTimeRange.

The walk first climbs from `from` through fine units until it reaches a boundary of the
next coarser unit, then descends taking the coarsest unit whose step does not overshoot
`to`. Like FeatureBase, a range whose ends are not aligned to the quantum's finest unit is
approximate at the edges (docs/pql.md); aligned ranges are exact.
"""
from __future__ import annotations

import datetime as _dt
from typing import Optional

_UTC = _dt.timezone.utc


def _add_date(t: _dt.datetime, years: int = 0, months: int = 0, days: int = 0) -> _dt.datetime:
    """Go's time.AddDate: overflowing days roll into the next month (Jan 31 + 1 month = Mar 3)."""
    y, m = t.year + years, t.month + months
    y += (m - 1) // 12
    m = (m - 1) % 12 + 1
    first = t.replace(year=y, month=m, day=1)
    return first + _dt.timedelta(days=t.day - 1 + days)


def _add_month(t: _dt.datetime) -> _dt.datetime:
    """FeatureBase's addMonth: from a day past the 28th, step from the 1st instead."""
    if t.day > 28:
        t = t.replace(day=1, minute=0, second=0, microsecond=0)
    return _add_date(t, months=1)


def _next_year_gte(t: _dt.datetime, end: _dt.datetime) -> bool:
    nxt = _add_date(t, years=1)
    return nxt.year == end.year or end > nxt


def _next_month_gte(t: _dt.datetime, end: _dt.datetime) -> bool:
    nxt = _add_date(t, months=1)
    return (nxt.year, nxt.month) == (end.year, end.month) or end > nxt


def _next_day_gte(t: _dt.datetime, end: _dt.datetime) -> bool:
    nxt = _add_date(t, days=1)
    return (nxt.year, nxt.month, nxt.day) == (end.year, end.month, end.day) or end > nxt


def _name(t: _dt.datetime, unit: str) -> str:
    stamp = {"Y": f"{t.year:04d}", "M": f"{t.year:04d}{t.month:02d}", "D": f"{t.year:04d}{t.month:02d}{t.day:02d}",
             "H": f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}"}[unit]
    return f"standard_{stamp}"


def _parse_view(name: str) -> tuple[_dt.datetime, _dt.datetime]:
    """(start, end) of the period a quantum view covers."""
    s = name.rsplit("_", 1)[1]
    y = int(s[:4])
    if len(s) == 4:
        return _dt.datetime(y, 1, 1, tzinfo=_UTC), _dt.datetime(y + 1, 1, 1, tzinfo=_UTC)
    m = int(s[4:6])
    if len(s) == 6:
        start = _dt.datetime(y, m, 1, tzinfo=_UTC)
        return start, _add_date(start, months=1)
    d = int(s[6:8])
    if len(s) == 8:
        start = _dt.datetime(y, m, d, tzinfo=_UTC)
        return start, start + _dt.timedelta(days=1)
    start = _dt.datetime(y, m, d, int(s[8:10]), tzinfo=_UTC)
    return start, start + _dt.timedelta(hours=1)


def views_for_range(quantum: str, start: Optional[_dt.datetime], end: Optional[_dt.datetime],
                    existing: list[str]) -> list[str]:
    """The views to union for [start, end). A missing start means the earliest existing
    time view, a missing end the end of the latest one; only views that exist are kept."""
    if not existing:
        return []
    if start is None or end is None:
        spans = [_parse_view(v) for v in existing]
        if start is None:
            start = min(s for s, _ in spans)
        if end is None:
            end = max(e for _, e in spans)
    start = start.astimezone(_UTC)
    end = end.astimezone(_UTC)
    has_y, has_m, has_d, has_h = ("Y" in quantum, "M" in quantum, "D" in quantum, "H" in quantum)
    out: list[str] = []
    t = start
    if has_h or has_d or has_m:
        while t < end:
            if has_h:
                if not _next_day_gte(t, end):
                    break
                if t.hour != 0:
                    out.append(_name(t, "H"))
                    t += _dt.timedelta(hours=1)
                    continue
            if has_d:
                if not _next_month_gte(t, end):
                    break
                if t.day != 1:
                    out.append(_name(t, "D"))
                    t = _add_date(t, days=1)
                    continue
            if has_m:
                if not _next_year_gte(t, end):
                    break
                if t.month != 1:
                    out.append(_name(t, "M"))
                    t = _add_month(t)
                    continue
            break
    while t < end:
        if has_y and _next_year_gte(t, end):
            out.append(_name(t, "Y"))
            t = _add_date(t, years=1)
        elif has_m and _next_month_gte(t, end):
            out.append(_name(t, "M"))
            t = _add_month(t)
        elif has_d and _next_day_gte(t, end):
            out.append(_name(t, "D"))
            t = _add_date(t, days=1)
        elif has_h:
            out.append(_name(t, "H"))
            t += _dt.timedelta(hours=1)
        else:
            break
    have = set(existing)
    return [v for v in dict.fromkeys(out) if v in have]

