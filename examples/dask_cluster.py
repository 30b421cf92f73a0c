"""The whole custval analysis on a Dask cluster: connect to a scheduler, summarise, measure
the base and fit the models, with the same answers as on one machine.

Run against a running cluster (scheduler address, Parquet glob):
    python examples/dask_cluster.py tcp://scheduler:8786 'logs/*.parquet'
or on a LocalCluster of this machine, with a simulated log:
    python examples/dask_cluster.py

Every worker needs custval installed (`pip install custval[dask]`), and the Parquet files must
be readable from every worker (a shared filesystem or object storage).
"""

from __future__ import annotations

import sys
import tempfile

import custval
import custval.dask
import dask.dataframe as dd
from distributed import Client, LocalCluster


def analyse(log) -> None:
    columns = dict(customer="customer_id", time="timestamp", amount="amount", order="order_id")
    summary = custval.dask.rfm_summary(log, **columns).persist()  # stays in the workers
    print(summary.head())
    print(custval.dask.kpis(log, **columns))
    print(custval.dask.retention(log, **columns, freq="M").tail())
    print(custval.dask.cohorts(log, **columns, freq="Q"))
    segments = custval.dask.rfm_segments(log, **columns)
    print(segments["segment"].value_counts().compute())
    print(custval.dask.value_concentration(log, **columns))
    # The fits read the distinct (x, t_x, T) rows counted in the workers.
    purchases = custval.BetaGeo().fit(summary)
    spend = custval.GammaGamma().fit(summary[summary["frequency"] > 0])
    print(purchases.summary())
    clv = custval.dask.customer_lifetime_value(purchases, spend, summary, horizon=12)
    print(clv.nlargest(5).compute())


def main() -> None:
    if len(sys.argv) > 1:
        with Client(sys.argv[1]):
            analyse(sys.argv[2] if len(sys.argv) > 2 else "logs/*.parquet")
        return
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster):
        log = custval.datasets.simulate_transactions(20_000, seed=1)
        with tempfile.TemporaryDirectory() as folder:
            dd.from_pandas(log, npartitions=8).to_parquet(folder)
            analyse(folder)


if __name__ == "__main__":
    main()
