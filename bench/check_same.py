"""Check that sop-impact's sop_version_metrics.csv and DuckDB's output agree (1e-9 relative)."""
import csv
import sys

ours = {(r["sop_id"], r["version"]): r for r in csv.DictReader(open(sys.argv[1]))}
theirs = list(csv.DictReader(open(sys.argv[2])))
bad = 0
for r in theirs:
    o = ours.get((r["sop_id"], r["version"]))
    if o is None:
        print("missing in sop-impact:", r["sop_id"], r["version"]); bad += 1; continue
    for k in ["tickets", "reopen_rate", "escalation_rate", "sla_attainment", "mttr_mean_h", "mttr_median_h"]:
        a, b = float(o[k] or "nan"), float(r[k] or "nan")
        if not (abs(a - b) <= 1e-9 * max(1.0, abs(b))):
            print(f"{r['sop_id']} {r['version']} {k}: sop-impact {a} vs duckdb {b}"); bad += 1
print(f"compared {len(theirs)} SOP versions x 6 metrics: {'all equal' if bad == 0 else str(bad) + ' differences'}")
sys.exit(1 if bad else 0)
