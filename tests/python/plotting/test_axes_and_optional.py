"""Every plot draws only on the Axes it is given, and matplotlib stays optional."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import custval
import custval.plotting as plots
import pytest
from custval.datasets import simulate_baskets

WEEKLY = {"freq": "D", "freq_multiplier": 7}
BASKETS = simulate_baskets(500, 50, seed=3)


def calls(bgnbd, summary, log, holdout, full_summary):
    def calibrated():
        return custval.BetaGeo().fit(
            holdout, frequency="frequency_cal", recency="recency_cal", T="T_cal"
        )

    return {
        "plot_period_transactions": lambda ax: plots.plot_period_transactions(
            bgnbd, summary, ax=ax
        ),
        "plot_frequency_recency_matrix": lambda ax: plots.plot_frequency_recency_matrix(
            bgnbd, summary=summary, ax=ax
        ),
        "plot_probability_alive_matrix": lambda ax: plots.plot_probability_alive_matrix(
            bgnbd, summary=summary, ax=ax
        ),
        "plot_expected_repeat_purchases": lambda ax: plots.plot_expected_repeat_purchases(
            bgnbd, ax=ax
        ),
        "plot_transaction_rate_heterogeneity": lambda ax: plots.plot_transaction_rate_heterogeneity(
            bgnbd, ax=ax
        ),
        "plot_dropout_rate_heterogeneity": lambda ax: plots.plot_dropout_rate_heterogeneity(
            bgnbd, ax=ax
        ),
        "plot_cumulative_transactions": lambda ax: plots.plot_cumulative_transactions(
            bgnbd, log, t=546, t_cal=273, ax=ax, **WEEKLY
        ),
        "plot_incremental_transactions": lambda ax: plots.plot_incremental_transactions(
            bgnbd, log, t=546, ax=ax, **WEEKLY
        ),
        "plot_history_alive": lambda ax: plots.plot_history_alive(
            bgnbd, log, customer_id=4, ax=ax, **WEEKLY
        ),
        "plot_calibration_purchases_vs_holdout_purchases": lambda ax: (
            plots.plot_calibration_purchases_vs_holdout_purchases(calibrated(), holdout, ax=ax)
        ),
        "plot_model_comparison": lambda ax: plots.plot_model_comparison(
            custval.compare_models(["bgnbd"], holdout), ax=ax
        ),
        "plot_clv_distribution": lambda ax: plots.plot_clv_distribution(
            full_summary["revenue"], ax=ax
        ),
        "plot_at_risk": lambda ax: plots.plot_at_risk(
            custval.at_risk(bgnbd, full_summary), bgnbd, full_summary, ax=ax
        ),
        "plot_cohorts": lambda ax: plots.plot_cohorts(custval.cohorts(log), ax=ax),
        "plot_retention": lambda ax: plots.plot_retention(custval.retention(log), ax=ax),
        "plot_segments": lambda ax: plots.plot_segments(
            custval.rfm_segments(log, amount="amount"), ax=ax
        ),
        "plot_customer_exposure": lambda ax: plots.plot_customer_exposure(summary.head(20), ax=ax),
        "plot_spend_distribution": lambda ax: plots.plot_spend_distribution(
            custval.GammaGamma().fit(summary), summary, ax=ax
        ),
        "plot_survival": lambda ax: plots.plot_survival(
            custval.ShiftedBetaGeo.from_dict({"alpha": 0.704, "beta": 1.182}), ax=ax
        ),
        "plot_lorenz": lambda ax: plots.plot_lorenz(
            custval.value_concentration(log, amount="amount"), ax=ax
        ),
        "plot_affinity": lambda ax: plots.plot_affinity(custval.affinity(BASKETS), ax=ax),
        "plot_recommendation_evaluation": lambda ax: plots.plot_recommendation_evaluation(
            custval.evaluate_recommendations(BASKETS, split="2024-09-30"), ax=ax
        ),
    }


def test_every_plot_is_tested_here():
    names = calls(*[None] * 5).keys()
    assert sorted(names) == sorted(plots.__all__)


@pytest.mark.parametrize("name", sorted(plots.__all__))
def test_given_axes_no_pyplot_state_is_touched(
    name, bgnbd, summary, log, holdout, full_summary, own_axes
):
    import matplotlib.pyplot as plt

    figure_before = plt.get_fignums()
    ax = own_axes()
    returned = calls(bgnbd, summary, log, holdout, full_summary)[name](ax)
    assert returned is ax
    assert plt.get_fignums() == figure_before == []  # no figure made, none made current
    # Only the Axes given was drawn on (a colour bar or a twin axis joins its own figure).
    assert all(other.figure is ax.figure for other in ax.figure.axes)
    assert ax.has_data() or ax.images
    assert ax.get_title()


@pytest.mark.parametrize("name", ["plot_lorenz", "plot_cohorts"])
def test_without_axes_a_new_figure_is_made(name, bgnbd, summary, log, holdout, full_summary):
    import matplotlib.pyplot as plt

    ax = calls(bgnbd, summary, log, holdout, full_summary)[name](None)
    assert plt.get_fignums() == [ax.figure.number]


def run_without_matplotlib(code: str) -> subprocess.CompletedProcess:
    # A None entry in sys.modules makes every import of matplotlib fail, as if not installed.
    prelude = "import sys\nsys.modules['matplotlib'] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_custval_imports_and_works_without_matplotlib():
    done = run_without_matplotlib(
        """
        import custval
        from custval.datasets import load_cdnow
        log = load_cdnow()
        print(len(custval.rfm_summary(log, amount="amount")))
        print(custval.kpis(log, amount="amount")._repr_html_()[:6])
        concentration = custval.value_concentration(log, amount="amount")
        try:
            custval.plotting.plot_lorenz(concentration)
        except custval.CustvalError as err:
            print(err)
        """
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["2357", "<table"]
    assert lines[2] == (
        "custval.plotting needs matplotlib; install the plotting extra: pip install 'custval[plot]'"
    )


def test_importing_custval_does_not_import_matplotlib():
    done = subprocess.run(
        [sys.executable, "-c", "import sys, custval; print('matplotlib' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
