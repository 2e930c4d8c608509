"""Calendar arithmetic for training time, which regulations count in months."""

from __future__ import annotations

import calendar
from datetime import date


def months_between(start: date, end: date) -> float:
    """Whole calendar months from start to end, plus the remainder as a fraction of a month.

    A rotation from 1 March to 1 June counts as exactly 3.0 months, whatever the
    months' lengths, which is how rotation tables state durations.
    """
    if end <= start:
        return 0.0
    whole = (end.year - start.year) * 12 + (end.month - start.month)
    anchor = _add_months(start, whole)
    if anchor > end:
        whole -= 1
        anchor = _add_months(start, whole)
    days_in_month = calendar.monthrange(anchor.year, anchor.month)[1]
    return round(whole + (end - anchor).days / days_in_month, 4)


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
