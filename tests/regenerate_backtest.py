"""Regenerate the stored back-test table: ``python tests/regenerate_backtest.py``.

Only for a change meant to move the model's results; say why in the commit. The
test itself never writes the table.
"""

from __future__ import annotations

from test_backtest import EXPECTED, backtest_summary

if __name__ == "__main__":
    backtest_summary().to_csv(EXPECTED, index=False)
    print(f"regenerated {EXPECTED}")
