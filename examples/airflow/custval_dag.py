"""Airflow DAG: score every customer nightly with ``custval run``.

One task a day runs ``custval run`` over the transaction log for the run's logical date: the
observation ends on that day (inclusive; later rows, e.g. in a backfill, are left out and
counted in the manifest) and the outputs land in ``<output_root>/date=<YYYY-MM-DD>/``. The run
is a transaction (staged beside that directory, renamed into place when complete), so a retry
or a re-run of the same date simply replaces it with identical data files. The last line
custval prints on stdout, a JSON summary (customers, revenue, model, outputs), becomes the
task's XCom (``return_value``) for downstream tasks.

Needs ``pip install "custval[batch]"`` in the environment of the workers, with the ``custval``
command on their PATH. Configure through the DAG params (defaults below, or the environment
variables ``CUSTVAL_INPUT`` and ``CUSTVAL_OUTPUT_ROOT``), or per run with ``--conf``.

Exit codes: 0 done; 3 bad input and 4 a model that did not converge fail the task (4 still
writes every other output); 5 cannot write; 143 killed by Airflow's timeout (SIGTERM, nothing
left behind).
"""

from __future__ import annotations

import os
import shlex
from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.models.param import Param
    from airflow.operators.bash import BashOperator

DEFAULT_INPUT = os.environ.get("CUSTVAL_INPUT", "/data/transactions/*.parquet")
DEFAULT_OUTPUT_ROOT = os.environ.get("CUSTVAL_OUTPUT_ROOT", "/data/custval")

COMMAND = """\
custval run {{ params.input_path | shquote }} \
  -o {{ (params.output_root ~ '/date=' ~ ds) | shquote }} \
  --customer {{ params.customer | shquote }} --time {{ params.time | shquote }} \
  --amount {{ params.amount | shquote }} \
  {% if params.order %}--order {{ params.order | shquote }}{% endif %} \
  --observation-end {{ ds }} --model {{ params.model | shquote }} \
  --horizon {{ params.horizon }} --log-format json
"""

with DAG(
    dag_id="custval_nightly",
    description="Nightly customer scores, KPIs, cohorts and report with custval run",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    user_defined_filters={"shquote": shlex.quote},
    params={
        "input_path": Param(DEFAULT_INPUT, type="string", description="files, dir or glob"),
        "output_root": Param(DEFAULT_OUTPUT_ROOT, type="string"),
        "customer": Param("customer_id", type="string"),
        "time": Param("timestamp", type="string"),
        "amount": Param("amount", type="string"),
        "order": Param("", type="string", description="order id column; empty: a row an order"),
        "model": Param("auto", enum=["auto", "bgnbd", "mbgnbd", "pnbd"]),
        "horizon": Param(12, type="integer", minimum=1, description="CLV horizon in months"),
    },
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=10),
        # Airflow sends SIGTERM on timeout: custval exits 143 leaving no partial output.
        "execution_timeout": timedelta(hours=3),
    },
    tags=["custval"],
) as dag:
    BashOperator(
        task_id="custval_run",
        bash_command=COMMAND,
        do_xcom_push=True,  # the last stdout line: custval's JSON summary
    )
