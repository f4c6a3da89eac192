"""The per-(sop_id, version) metrics of sop-impact computed by DuckDB on the same ServiceNow-form
export, with an as-of join, for the scale benchmark. Prints a CSV on stdout.

Usage: duckdb_metrics.py TICKETS.csv|TICKETS.parquet SOPS.csv
A .parquet tickets file is read typed, as `to_parquet.py` writes it (timestamps as timestamps,
counts as integers, made_sla as a boolean): DuckDB's own Parquet-against-CSV time on the same
query, the reference for what a columnar input saves.
Definitions as in queries/*.sql: resolved = resolved_at or closed_at present; reopen rate over
resolved tickets; escalation = escalation other than Normal, over all tickets; SLA attainment over
tickets with an SLA outcome; MTTR mean and median (linear interpolation) over resolved tickets.
"""
import sys

import duckdb

tickets, sops = sys.argv[1], sys.argv[2]
con = duckdb.connect()
if tickets.endswith(".parquet"):
    con.execute(f"""
CREATE TEMP TABLE t AS
SELECT
    category, subcategory, opened_at AS opened, coalesce(resolved_at, closed_at) AS done,
    reopen_count, escalation <> 'Normal' AS escalated, made_sla
FROM read_parquet('{tickets}')
""")
else:
    con.execute(f"""
CREATE TEMP TABLE t AS
SELECT
    category, subcategory,
    strptime(opened_at, '%d/%m/%Y %H:%M:%S') AS opened,
    coalesce(try_strptime(nullif(resolved_at, ''), '%d/%m/%Y %H:%M:%S'),
             try_strptime(nullif(closed_at, ''), '%d/%m/%Y %H:%M:%S')) AS done,
    reopen_count::BIGINT AS reopen_count,
    escalation <> 'Normal' AS escalated,
    CASE made_sla WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END AS made_sla
FROM read_csv('{tickets}', header = true, all_varchar = true)
""")
con.execute(f"""
CREATE TEMP TABLE s AS
SELECT sop_id, version, category, subcategory, CAST(effective_from AS TIMESTAMP) AS effective_from
FROM read_csv('{sops}', header = true, all_varchar = true)
""")
rows = con.execute("""
SELECT s.sop_id, s.version,
    count(*) AS tickets,
    avg(CASE WHEN reopen_count > 0 THEN 1.0 ELSE 0.0 END) FILTER (WHERE done IS NOT NULL) AS reopen_rate,
    avg(CASE WHEN escalated THEN 1.0 ELSE 0.0 END) AS escalation_rate,
    avg(CASE WHEN made_sla THEN 1.0 WHEN NOT made_sla THEN 0.0 END) AS sla_attainment,
    avg(epoch_ms(done) - epoch_ms(opened)) FILTER (WHERE done IS NOT NULL) / 3600000.0 AS mttr_mean_h,
    quantile_cont((epoch_ms(done) - epoch_ms(opened)) / 3600000.0, 0.5) FILTER (WHERE done IS NOT NULL) AS mttr_median_h
FROM t ASOF JOIN s
  ON t.category = s.category AND t.subcategory = s.subcategory AND t.opened >= s.effective_from
GROUP BY s.sop_id, s.version
ORDER BY s.sop_id, s.version
""").fetchall()
print("sop_id,version,tickets,reopen_rate,escalation_rate,sla_attainment,mttr_mean_h,mttr_median_h")
for r in rows:
    print(",".join("" if v is None else repr(v) if isinstance(v, float) else str(v) for v in r))
