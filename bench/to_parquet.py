"""Write a ServiceNow-form ticket export (as `sop-impact generate --profile servicenow` writes it)
as a typed Parquet file, the way a warehouse exports the same table: timestamps as timestamps,
counts as integers, made_sla as a boolean, the rest as text; DuckDB's default row groups.

Usage: to_parquet.py TICKETS.csv OUT.parquet
"""
import sys

import duckdb

tickets, out = sys.argv[1], sys.argv[2]
ts = lambda c: f"try_strptime(nullif({c}, ''), '%d/%m/%Y %H:%M:%S') AS {c}"
duckdb.connect().execute(f"""
COPY (
    SELECT number, {ts('opened_at')}, {ts('resolved_at')}, {ts('closed_at')}, state, priority,
        category, subcategory, assignment_group, assigned_to,
        reassignment_count::BIGINT AS reassignment_count, reopen_count::BIGINT AS reopen_count,
        CASE made_sla WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END AS made_sla,
        escalation, close_code
    FROM read_csv('{tickets}', header = true, all_varchar = true)
) TO '{out}' (FORMAT parquet)
""")
