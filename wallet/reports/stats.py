"""The two comparisons a control-group report makes, with their 95% intervals.

- A share (buyers among shoppers): the difference of two proportions with the unpooled
  Wald interval, p1 - p2 ± z·sqrt(p1(1-p1)/n1 + p2(1-p2)/n2). It is trusted only when each
  group has at least ``MIN_SHOPPERS`` shoppers and at least ``MIN_EVENTS`` buyers and
  non-buyers (the usual rule for the normal approximation); otherwise the answer is "too
  small to tell", not an interval that looks precise.
- A mean per shopper (receipts, revenue, points; shoppers who bought nothing count as 0):
  Welch's t interval, which does not assume the two groups vary alike (a campaign often
  changes the spread, not only the mean), with Welch-Satterthwaite degrees of freedom.

The t quantile comes from the Cornish-Fisher expansion around the normal one (Abramowitz
and Stegun 26.7.5): within 0.001 of the table from 10 degrees of freedom up, and the
comparisons here need at least ``MIN_SHOPPERS`` per group anyway, so no SciPy is pulled in
for one number. Pure functions over sums, so the database adds up and Python only divides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

LEVEL = 0.95
MIN_SHOPPERS = 30
MIN_EVENTS = 5
_Z = NormalDist().inv_cdf(0.5 + LEVEL / 2)  # 1.959964


@dataclass(frozen=True)
class Interval:
    difference: float
    low: float
    high: float
    # False: too few shoppers (or buyers) for the interval to mean anything.
    enough: bool

    @property
    def excludes_zero(self) -> bool:
        return self.enough and (self.low > 0 or self.high < 0)


def t_quantile(df: float) -> float:
    """The two-sided ``LEVEL`` quantile of Student's t with ``df`` degrees of freedom."""
    if not math.isfinite(df) or df > 1e6:
        return _Z
    z, d = _Z, df
    return (
        z
        + (z**3 + z) / (4 * d)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * d**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * d**3)
        + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * d**4)
    )


def proportions(hits1: int, n1: int, hits2: int, n2: int) -> Interval:
    """Share hits1/n1 minus share hits2/n2 (group 1: recipients, group 2: held out)."""
    if n1 == 0 or n2 == 0:
        return Interval(0.0, 0.0, 0.0, enough=False)
    p1, p2 = hits1 / n1, hits2 / n2
    diff = p1 - p2
    half = _Z * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    enough = min(n1, n2) >= MIN_SHOPPERS and min(hits1, n1 - hits1, hits2, n2 - hits2) >= (
        MIN_EVENTS
    )
    return Interval(diff, diff - half, diff + half, enough=enough)


def variance(total: float, squares: float, n: int) -> float:
    """The sample variance from a sum and a sum of squares (n - 1 in the denominator)."""
    if n < 2:
        return 0.0
    return max(squares - total * total / n, 0.0) / (n - 1)


def means(
    total1: float, squares1: float, n1: int, total2: float, squares2: float, n2: int
) -> Interval:
    """Mean per shopper of group 1 minus group 2, with Welch's interval."""
    if n1 == 0 or n2 == 0:
        return Interval(0.0, 0.0, 0.0, enough=False)
    diff = total1 / n1 - total2 / n2
    if min(n1, n2) < 2:
        return Interval(diff, diff, diff, enough=False)
    a = variance(total1, squares1, n1) / n1
    b = variance(total2, squares2, n2) / n2
    enough = min(n1, n2) >= MIN_SHOPPERS
    if a + b == 0:
        # Every shopper of both groups alike (all zero, say): no spread to measure.
        return Interval(diff, diff, diff, enough=False)
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    half = t_quantile(df) * math.sqrt(a + b)
    return Interval(diff, diff - half, diff + half, enough=enough)
