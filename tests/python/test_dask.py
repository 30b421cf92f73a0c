"""custval.dask on a real cluster (LocalCluster, 2 worker processes): every answer equals the
in-memory answer exactly — integers and money identical, floats identical to the bit — on
logs split into partitions that cut through customers and days."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import custval  # noqa: E402
import custval.dask as cvd  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        # Starting worker processes warns about things of the test machine, not of custval.
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = distributed.Client(cluster)
    yield client
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.close()
        cluster.close()


def _log(ids: str, seed: int = 5, customers: int = 600) -> pd.DataFrame:
    """A simulated log, rows shuffled (so partitions cut through customers and days), with
    one customer that buys in every partition."""
    log = custval.datasets.simulate_transactions(customers, seed=seed)
    rng = np.random.default_rng(seed)
    log = log.iloc[rng.permutation(len(log))].reset_index(drop=True)
    everywhere = log.iloc[:1].copy()
    spread = pd.concat([everywhere] * 8, ignore_index=True)
    spread["customer_id"] = -1
    spread["timestamp"] = pd.date_range("2023-02-01", periods=8, freq="37D").astype("datetime64[s]")
    spread["amount"] = [1.10, 2.20, 3.30, 0.05, 9.99, 100.0, 0.01, 7.77]
    log = pd.concat([log, spread], ignore_index=True)
    order = np.argsort(np.r_[np.arange(len(log) - 8), np.linspace(0, len(log), 8)], kind="stable")
    log = log.iloc[order].reset_index(drop=True)
    if ids == "string":
        log["customer_id"] = "c" + log["customer_id"].astype(str)
    return log


def _partitioned(log: pd.DataFrame, parts: int, *, empty: bool = True) -> dd.DataFrame:
    """``log`` in ``parts`` partitions of uneven sizes, plus an empty one."""
    cuts = np.sort(np.random.default_rng(parts).choice(len(log), parts - 1, replace=False))
    bounds = [0, *cuts.tolist(), len(log)]
    pieces = [log.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    if empty:
        pieces.insert(1, log.iloc[:0])
    return _from_pieces(pieces, log.iloc[:0])


def _from_pieces(pieces: list[pd.DataFrame], meta: pd.DataFrame) -> dd.DataFrame:
    return dd.from_delayed([dask.delayed(p) for p in pieces], meta=meta, verify_meta=False)


def assert_same(distributed_frame: pd.DataFrame, in_memory: pd.DataFrame) -> None:
    """Equal values and types; floats equal bit for bit (customers sorted)."""
    left = distributed_frame.sort_index()
    right = in_memory.sort_index()
    pd.testing.assert_frame_equal(left, right, check_exact=True)
    for column in right.columns:
        if right[column].dtype == np.float64:
            bits = left[column].to_numpy().view(np.int64)
            np.testing.assert_array_equal(bits, right[column].to_numpy().view(np.int64))


@pytest.mark.parametrize("ids", ["int", "string"])
@pytest.mark.parametrize("parts", [1, 7])
def test_summaries_equal_in_memory(client, ids, parts):
    log = _log(ids)
    data = _partitioned(log, parts)
    options = dict(amount="amount", order="order_id")
    assert_same(cvd.rfm_summary(data, **options).compute(), custval.rfm_summary(log, **options))
    weekly = dict(options, freq="W", observation_end="2025-01-31", money="decimal")
    assert_same(cvd.rfm_summary(data, **weekly).compute(), custval.rfm_summary(log, **weekly))
    holdout = dict(options, calibration_end="2024-06-30", freq="D")
    assert_same(
        cvd.calibration_holdout(data, **holdout).compute(),
        custval.calibration_holdout(log, **holdout),
    )
    assert cvd.kpis(data, **options, margin=0.3) == custval.kpis(log, **options, margin=0.3)


def test_base_metrics_equal_in_memory(client):
    log = _log("int", seed=9)
    data = _partitioned(log, 5)
    for window in (1, 3):
        options = dict(amount="amount", freq="M", active_window=window, money="decimal")
        pd.testing.assert_frame_equal(
            cvd.retention(data, **options), custval.retention(log, **options), check_exact=True
        )
    for value in ("active", "orders", "revenue", "cumulative_revenue_per_customer"):
        options = dict(amount="amount", order="order_id", freq="Q", value=value)
        pd.testing.assert_frame_equal(
            cvd.cohorts(data, **options), custval.cohorts(log, **options), check_exact=True
        )
    assert_same(
        cvd.rfm_segments(data, amount="amount").compute(),
        custval.rfm_segments(log, amount="amount"),
    )
    ours = cvd.value_concentration(data, amount="amount").to_dict()
    assert ours == custval.value_concentration(log, amount="amount").to_dict()


def test_models_fit_to_the_bit(client):
    log = _log("int", seed=3, customers=1500)
    data = _partitioned(log, 6)
    summary = cvd.rfm_summary(data, amount="amount").persist()
    local = custval.rfm_summary(log, amount="amount")
    for model in (custval.BetaGeo, custval.ModifiedBetaGeo, custval.ParetoNBD):
        ours, theirs = model().fit(summary), model().fit(local)
        assert ours.params_ == theirs.params_
        assert ours.log_likelihood_ == theirs.log_likelihood_
        assert ours.n_obs_ == theirs.n_obs_
    repeat = summary[summary["frequency"] > 0]
    spend = custval.GammaGamma().fit(repeat)
    assert spend.params_ == custval.GammaGamma().fit(local[local["frequency"] > 0]).params_
    bg = custval.BetaGeo().fit(summary)
    assert_same(cvd.predict(bg, summary, 30).compute(), bg.predict(local, 30))
    assert_same(
        cvd.customer_lifetime_value(bg, spend, summary, horizon=6).compute().to_frame(),
        custval.customer_lifetime_value(bg, spend, local, horizon=6).to_frame(),
    )


def test_evaluate_gathers_the_holdout_table(client):
    log = _log("int", seed=21, customers=800)
    options = dict(calibration_end="2024-06-30", amount="amount")
    local = custval.calibration_holdout(log, **options)
    table = cvd.calibration_holdout(_partitioned(log, 4), **options)
    roles = dict(frequency="frequency_cal", recency="recency_cal", T="T_cal")
    model = custval.BetaGeo().fit(table, **roles)
    assert model.params_ == custval.BetaGeo().fit(local, **roles).params_
    ours, theirs = cvd.evaluate(model, table), custval.evaluate(model, local)
    assert ours.customers == theirs.customers
    pd.testing.assert_frame_equal(ours.conditional_expectation, theirs.conditional_expectation)
    assert ours.metrics.mae == pytest.approx(theirs.metrics.mae, rel=1e-12)
    assert ours.gini == pytest.approx(theirs.gini, rel=1e-12)
    # Bit for bit against the in-memory table in customer-id order: float sums follow the
    # rows' order, and the gathered table is in id order.
    in_id_order = local.sort_index(kind="stable")
    in_id_order.attrs = local.attrs
    assert ours.to_dict() == custval.evaluate(model, in_id_order).to_dict()
    # The same answer whatever the partitioning: customers are gathered in id order.
    again = cvd.evaluate(model, cvd.calibration_holdout(_partitioned(log, 2), **options))
    assert again.to_dict() == ours.to_dict()


def test_parquet_directory(client, tmp_path):
    log = _log("string", seed=11, customers=300)
    for k, start in enumerate(range(0, len(log), len(log) // 4 + 1)):
        piece = log.iloc[start : start + len(log) // 4 + 1]
        piece.to_parquet(tmp_path / f"part-{k}.parquet", index=False)
    ours = cvd.rfm_summary(str(tmp_path), amount="amount").compute()
    # Parquet keeps times in ms: the in-memory answer from the same files is the reference.
    assert_same(ours, custval.rfm_summary(str(tmp_path / "*.parquet"), amount="amount"))
    assert len(ours) == log["customer_id"].nunique()


def test_bad_input_is_reported_on_the_client(client):
    # In memory the counts are the whole column's; on Dask, the partition's that failed.
    MIXED = r"'customer_id': its values \(\d+ int, 4 str\) cannot be read as one column type"
    log = _log("int", customers=50)
    data = _partitioned(log, 3)
    with pytest.raises(custval.ColumnNotFoundError, match="'amount_eur'"):
        cvd.rfm_summary(data, amount="amount_eur")
    mixed = log.astype({"customer_id": object})
    mixed.loc[:3, "customer_id"] = "x"
    with pytest.raises(custval.SchemaError, match=MIXED):
        custval.rfm_summary(mixed)
    with pytest.raises(custval.SchemaError, match=MIXED):
        with dask.config.set({"dataframe.convert-string": False}):
            cvd.rfm_summary(dd.from_pandas(mixed, npartitions=2))
    pieces = [log.iloc[:40], log.iloc[40:].astype({"amount": "int64"})]
    disagree = _from_pieces(pieces, log.iloc[:0])
    with pytest.raises(custval.SchemaError, match="'amount': partitions disagree"):
        cvd.kpis(disagree, amount="amount")
    holes = log.copy()
    holes.loc[[2, 5, 9], "amount"] = np.nan
    with pytest.raises(custval.DataError, match="'amount': 3 rows are null"):
        cvd.rfm_summary(_partitioned(holes, 3), amount="amount")
    with pytest.warns(UserWarning, match="dropped 3 rows"):
        ours = cvd.rfm_summary(_partitioned(holes, 3), amount="amount", dropna=True)
    with pytest.warns(UserWarning, match="dropped 3 rows"):
        theirs = custval.rfm_summary(holes, amount="amount", dropna=True)
    assert_same(ours.compute(), theirs)


def test_model_errors_count_customers(client):
    summary = custval.rfm_summary(_log("int", customers=80))
    broken = summary.copy()
    broken.loc[broken.index[:4], "recency"] = broken["T"].iloc[:4] + 1
    with pytest.raises(custval.DataError) as in_memory:
        custval.BetaGeo().fit(broken)
    with pytest.raises(custval.DataError, match="4 rows") as ours:
        custval.BetaGeo().fit(dd.from_pandas(broken, npartitions=3))
    assert str(ours.value) == str(in_memory.value)


def _dies_on_call(piece: pd.DataFrame, counter: str, deadly: int) -> pd.DataFrame:
    """``piece``, but the worker process running the ``deadly``-th read of it dies."""
    with open(counter, "a") as f:
        f.write(".")
    if os.path.getsize(counter) == deadly:
        os._exit(1)
    return piece


def test_a_worker_that_dies_mid_computation_changes_nothing(client, tmp_path):
    # The first read of the piece is the reduction; the worker doing the second (the summary
    # itself) dies: Dask's nanny restarts it, the scheduler reruns the lost tasks from their
    # inputs, and custval's tasks, pure functions of their partition, give the same answer.
    log = _log("int", seed=13, customers=200)
    counter = str(tmp_path / "reads")
    half = len(log) // 2
    pieces = [
        dask.delayed(_dies_on_call)(log.iloc[:half], counter, 2),
        dask.delayed(log.iloc[half:]),
    ]
    data = dd.from_delayed(pieces, meta=log.iloc[:0], verify_meta=False)
    ours = cvd.rfm_summary(data, amount="amount").compute()
    assert os.path.getsize(counter) >= 3  # read again after the death
    assert_same(ours, custval.rfm_summary(log, amount="amount"))
