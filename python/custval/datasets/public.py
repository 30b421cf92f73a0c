"""The public data sets of the BTYD literature, shipped in the package (a few hundred KB).

Source: Bruce Hardie's website (brucehardie.com), which publishes them with the notes that
use them, and lifetimes, which ships the same files under its MIT licence:

- CDNOW: a 1/10th systematic sample (2,357 customers, 6,919 rows) of the 23,570 customers
  who made their first purchase at the online music retailer CDNOW in the first quarter of
  1997, with all their purchases to 1998-06-30 (Fader & Hardie, "Creating an RFM Summary
  Using Excel", 2008; the data of Fader, Hardie & Lee 2005).
- Donations: the 11,104 members of the 1995 cohort of a non-profit's donors, whether each
  gave in each of the 6 following years (Fader, Hardie & Shang 2010), compressed to patterns.
- sBG cohorts: two cohorts of 1,000 subscribers ("highend", "regular") observed for 8
  periods, rebuilt from the survival counts of Fader & Hardie (2007).

They are free to use for research and teaching, as their publishers say; cite the papers.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import pandas as pd

from custval import _frames
from custval._frames import METADATA_KEY


def _path(name: str) -> Any:
    return resources.files("custval.datasets").joinpath("data", name)


def load_cdnow(*, output: str = "pandas") -> Any:
    """The CDNOW sample transaction log: 2,357 customers, 6,919 rows, 1997-01-01 … 1998-06-30.

    Columns ``customer_id`` (1 … 2357), ``timestamp`` (the day of the purchase), ``cds``
    (number of CDs bought) and ``amount`` (dollars). Source and licence: see
    :mod:`custval.datasets.public`.

    Parameters
    ----------
    output : {"pandas", "polars", "arrow"}
        The frame type returned.

    Examples
    --------
    >>> from custval.datasets import load_cdnow
    >>> log = load_cdnow()
    >>> len(log), log["customer_id"].nunique(), round(float(log["amount"].sum()), 2)
    (6919, 2357, 244091.94)
    >>> str(log["timestamp"].min().date()), str(log["timestamp"].max().date())
    ('1997-01-01', '1998-06-30')

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers the
       Easy Way: An Alternative to the Pareto/NBD Model." Marketing Science 24(2), 275–284.
    """
    with _path("CDNOW_sample.txt.gz").open("rb") as handle:
        raw = pd.read_csv(
            handle,
            sep=r"\s+",
            header=None,
            names=["master_id", "customer_id", "date", "cds", "amount"],
            compression="gzip",
        )
    log = pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype("int64"),
            "timestamp": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
            "cds": raw["cds"].astype("int64"),
            "amount": raw["amount"].astype("float64"),
        }
    )
    return _frames.from_pandas(log, output, "other")


def load_cdnow_summary(*, output: str = "pandas") -> Any:
    """The published per-customer summary of the CDNOW sample, calibration to 1997-09-30.

    The table of Fader, Hardie & Lee (2005) (lifetimes'
    ``load_cdnow_summary_data_with_monetary_value``): ``frequency``, ``recency`` and ``T`` in
    weeks and ``monetary_value`` (mean spend of the repeat purchases), indexed by
    ``customer_id``. It carries the time unit (days counted in weeks) the way
    :func:`custval.rfm_summary` does, so a model fitted on it knows its time unit.

    Parameters
    ----------
    output : {"pandas", "polars", "arrow"}
        The frame type returned.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_cdnow_summary
    >>> summary = load_cdnow_summary()
    >>> summary.head(2)
                 frequency  recency      T  monetary_value
    customer_id
    1                    2    30.43  38.86           22.35
    2                    1     1.71  38.86           11.77
    >>> model = custval.BetaGeo().fit(summary)
    >>> {k: round(v, 3) for k, v in model.params_.items()}
    {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    """
    with _path("cdnow_customers_summary_with_transactions.csv").open("rb") as handle:
        raw = pd.read_csv(handle)
    summary = pd.DataFrame(
        {
            "frequency": raw["x"].to_numpy(),
            "recency": raw["t_x"].to_numpy(),
            "T": raw["T"].to_numpy(),
            "monetary_value": raw["zbar"].to_numpy(),
        },
        index=pd.Index(raw["ID"].to_numpy(), name="customer_id"),
    )
    metadata = {
        "freq": "D",
        "freq_multiplier": 7.0,
        "observation_end": "1997-09-30T23:59:59.999999",
        "include_first": False,
    }
    summary.attrs[METADATA_KEY] = metadata
    return _frames.from_pandas(summary, output, "other", metadata)


def load_donations(*, output: str = "pandas") -> Any:
    """The donations panel of Fader, Hardie & Shang (2010), for BG/BB: one row per pattern.

    Columns ``frequency`` (years with a donation after the first), ``recency`` (the last such
    year, 0 … 6), ``periods`` (6 opportunities) and ``weights`` (donors with that pattern;
    11,104 in all). Fit with ``BetaGeoBetaBinom().fit(data, T="periods", weights="weights")``.

    Examples
    --------
    >>> from custval.datasets import load_donations
    >>> donations = load_donations()
    >>> len(donations), int(donations["weights"].sum())
    (22, 11104)

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Shang, J. (2010). "Customer-Base Analysis in a
       Discrete-Time Noncontractual Setting." Marketing Science 29(6), 1086–1108.
    """
    with _path("donations.csv").open("rb") as handle:
        frame = pd.read_csv(handle)
    return _frames.from_pandas(frame, output, "other")


def load_sbg_cohorts(*, output: str = "pandas") -> Any:
    """Two subscription cohorts of 1,000 observed for 8 periods (Fader & Hardie 2007), for sBG.

    Columns ``customer_id``, ``recency`` (periods paid for, the first counts as 1), ``T`` (8
    periods observed; recency = T: still a subscriber) and ``cohort`` ("highend", "regular").

    Examples
    --------
    >>> from custval.datasets import load_sbg_cohorts
    >>> cohorts = load_sbg_cohorts()
    >>> cohorts.groupby("cohort").size().to_dict()
    {'highend': 1000, 'regular': 1000}

    References
    ----------
    .. [1] Fader, P. S. and Hardie, B. G. S. (2007). "How to Project Customer Retention."
       Journal of Interactive Marketing 21(1), 76–90.
    """
    with _path("sbg_cohorts.csv").open("rb") as handle:
        frame = pd.read_csv(handle)
    return _frames.from_pandas(frame, output, "other")
