"""Check that the Parquet and Arrow IPC metric tables load in pyarrow and pandas, with the
columns listed in docs/outputs.md and the same rows as the CSV output."""
import csv
import sys

import pyarrow.feather as feather
import pyarrow.parquet as pq

out = sys.argv[1]
expected = ("sop_id,version,process,effective_from,effective_to,tickets,resolved,open,reopen_rate,error_rate,"
            "escalation_rate,sla_attainment,mttr_mean_h,mttr_median_h,mttr_p90_h,audit_exceptions,"
            "audit_exceptions_per_1k,changes,change_failure_rate,analyst_cv").split(",")
with open(f"{out}/csv/metrics/sop_version_metrics.csv", newline="") as f:
    rows = list(csv.DictReader(f))
for name, table in [("parquet", pq.read_table(f"{out}/parquet/metrics/sop_version_metrics.parquet")),
                    ("ipc", feather.read_table(f"{out}/ipc/metrics/sop_version_metrics.arrow"))]:
    assert table.column_names == expected, (name, table.column_names)
    df = table.to_pandas()
    assert len(df) == len(rows), (name, len(df), len(rows))
    assert [int(t) for t in df["tickets"]] == [int(r["tickets"]) for r in rows], name
    assert str(df["effective_from"].dtype).startswith("datetime64"), (name, df["effective_from"].dtype)
    print(f"pyarrow/pandas read {name}: {len(df)} rows, {len(expected)} columns, as in the CSV")
