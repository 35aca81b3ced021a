"""Regenerate the stored back-test tables: ``python tests/regenerate_backtest.py``.

Only for a change meant to move the model's results; say why in the commit. The
tests themselves never write the tables.
"""

from __future__ import annotations

from test_backtest import EARLIER_TIMING, EXPECTED, NO_RISK, WITHOUT_MANAGERS, backtest_summary

if __name__ == "__main__":
    backtest_summary().to_csv(EXPECTED, index=False)
    print(f"regenerated {EXPECTED}")
    simpler = backtest_summary(("managers=unlimited", "coping=off", *EARLIER_TIMING, *NO_RISK))
    simpler.to_csv(WITHOUT_MANAGERS, index=False)
    print(f"regenerated {WITHOUT_MANAGERS}")
