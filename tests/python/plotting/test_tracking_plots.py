"""Tracking plots drawn from expected_cumulative_transactions and alive_history."""

from __future__ import annotations

import custval
import numpy as np
import pandas as pd
import pytest
from custval.plotting import (
    plot_cumulative_transactions,
    plot_history_alive,
    plot_incremental_transactions,
)

WEEKLY = {"freq": "D", "freq_multiplier": 7}


def test_cumulative_transactions_lines_are_the_tracking_table(bgnbd, log):
    table = custval.expected_cumulative_transactions(bgnbd, log, t=546, **WEEKLY)
    ax = plot_cumulative_transactions(bgnbd, log, t=546, t_cal=273, **WEEKLY)
    actual, model, calibration = ax.lines
    assert [line.get_label() for line in ax.lines] == ["Actual", "BetaGeo", "End of calibration"]
    np.testing.assert_array_equal(actual.get_ydata(), table["actual"].to_numpy())
    np.testing.assert_array_equal(model.get_ydata(), table["predicted"].to_numpy())
    assert pd.Timestamp(actual.get_xdata()[0]) == pd.Timestamp("1997-01-07")
    # 273 days (39 weeks) after the start of the first day: the calibration end of the summary.
    assert pd.Timestamp(calibration.get_xdata()[0]) == pd.Timestamp("1997-10-01")
    assert ax.get_ylabel() == "Cumulative repeat transactions"
    assert ax.get_xlabel() == "Period (rows every 7 days)"


def test_cumulative_transactions_overlays_models(bgnbd, pnbd, log):
    ax = plot_cumulative_transactions([bgnbd, pnbd], log, t=546, **WEEKLY)
    assert [line.get_label() for line in ax.lines] == ["Actual", "BetaGeo", "ParetoNBD"]
    pareto = custval.expected_cumulative_transactions(pnbd, log, t=546, **WEEKLY)
    np.testing.assert_array_equal(ax.lines[2].get_ydata(), pareto["predicted"].to_numpy())
    ax = plot_cumulative_transactions({"mine": bgnbd}, log, t=546, t_cal="1997-09-30", **WEEKLY)
    assert [line.get_label() for line in ax.lines][1] == "mine"
    with pytest.raises(custval.CustvalError, match="t_cal"):
        plot_cumulative_transactions(bgnbd, log, t=546, t_cal="soon", **WEEKLY)
    with pytest.raises(custval.CustvalError, match="empty"):
        plot_cumulative_transactions([], log, t=546, **WEEKLY)


def test_incremental_transactions(bgnbd, log):
    table = custval.expected_cumulative_transactions(bgnbd, log, t=546, **WEEKLY)
    ax = plot_incremental_transactions(bgnbd, log, t=546, **WEEKLY)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), table["actual_incremental"].to_numpy())
    np.testing.assert_array_equal(
        ax.lines[1].get_ydata(), table["predicted_incremental"].to_numpy()
    )
    assert ax.get_title() == "Tracking Incremental Transactions"


def test_history_alive_is_the_alive_path_with_purchases_marked(bgnbd, log):
    path = custval.alive_history(bgnbd, log, customer_id=1, **WEEKLY)
    ax = plot_history_alive(bgnbd, log, customer_id=1, **WEEKLY)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), path["p_alive"].to_numpy())
    purchase_weeks = sorted(
        {
            (day - pd.Timestamp("1997-01-01")).days // 7
            for day in log.loc[log["customer_id"] == 1, "timestamp"]
        }
    )
    marks = [pd.Timestamp(line.get_xdata()[0]) for line in ax.lines[1:]]
    assert len(marks) == len(purchase_weeks)
    assert marks[0] == path.index[0]
    assert ax.get_ylim() == (0, 1.05)
    assert ax.get_title() == "History of P(alive) of customer 1"
    with pytest.raises(custval.CustvalError, match="no transactions"):
        plot_history_alive(bgnbd, log, customer_id=999_999, **WEEKLY)
