"""Small result objects shared by the survival functions."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True, eq=False)
class TestResult:
    """A chi-square (or normal) test: ``statistic``, ``df``, ``p_value``.

    ``table`` optionally holds the per-group detail (observed, expected...).
    """

    __test__ = False  # not a pytest test class despite the name

    statistic: float
    df: float
    p_value: float
    method: str
    table: pd.DataFrame | None = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame: ``method, statistic, df, p_value``."""
        return pd.DataFrame(
            [
                {
                    "method": self.method,
                    "statistic": self.statistic,
                    "df": self.df,
                    "p_value": self.p_value,
                }
            ]
        )
