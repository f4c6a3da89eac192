#!/usr/bin/env python3
"""False alarms on a real export: made-up SOP histories on the shared UCI ServiceNow event log.

An SOP history invented after the fact cannot have caused anything in the data, so every
`improved`/`worsened` verdict it gets is a false alarm. For each of N seeds: 6 SOPs on frequent
(category, subcategory) pairs of the log, each with 2 versions at dates drawn uniformly over the
weeks that hold the tickets; `sop-impact metrics` over the log; then the verdicts of every
testable comparison (a p-value), by method.

    bench/placebo_real.py [--bin PATH] [--seeds N] [--log PATH]

Prints one line per seed and a total; exits 1 when more than 5% of the testable comparisons are
called, or any is called by the plain before/after test.
"""
import argparse
import collections
import csv
import datetime as dt
import gzip
import os
import random
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--bin", default=os.path.expanduser("~/.cache/sop-impact-release/release/sop-impact"))
ap.add_argument("--seeds", type=int, default=10)
ap.add_argument("--log", default=os.path.join(here, "..", "..", "shared", "data", "uci_incident_event_log.csv.gz"))
args = ap.parse_args()

work = tempfile.mkdtemp(prefix="placebo-real-")
log = os.path.join(work, "incidents.csv")
with gzip.open(args.log, "rb") as src, open(log, "wb") as dst:
    dst.write(src.read())

# The latest row of each incident: its category pair and opening date.
last = {}
with open(log, newline="") as f:
    for r in csv.DictReader(f):
        last[r["number"]] = (r["category"], r["subcategory"], r["opened_at"])
pairs = collections.Counter((c, s) for c, s, _ in last.values() if c != "?" and s != "?")
frequent = [p for p, n in pairs.most_common(40) if n >= 150]
opened = sorted(dt.datetime.strptime(o, "%d/%m/%Y %H:%M") for _, _, o in last.values())
first, end = opened[0], opened[-1]

total = collections.Counter()
for seed in range(1, args.seeds + 1):
    rng = random.Random(seed)
    chosen = rng.sample(frequent, 6)
    sops = os.path.join(work, f"sops-{seed}.csv")
    with open(sops, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sop_id", "version", "process", "category", "subcategory", "effective_from", "owner"])
        for k, (cat, sub) in enumerate(chosen):
            # dates where the tickets are: quantiles of the opening dates
            d1, d2 = sorted(opened[int(rng.uniform(0.02, 0.98) * (len(opened) - 1))] for _ in range(2))
            if d2 - d1 < dt.timedelta(days=14):
                d2 = d1 + dt.timedelta(days=14)
            for v, d in (("1.0", d1), ("2.0", d2)):
                w.writerow([f"SOP-{k}", v, f"{cat} / {sub}", cat, sub, d.date().isoformat(), "Owner"])
    out = os.path.join(work, f"out-{seed}")
    run = subprocess.run(
        [args.bin, "metrics", "--quiet", "--tickets", log, "--sops", sops, "--date-order", "dmy",
         "--as-of", (end + dt.timedelta(days=1)).date().isoformat(), "--out", out],
        capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"seed {seed}: {run.stderr}")
    seen = collections.Counter()
    with open(os.path.join(out, "comparisons.csv"), newline="") as f:
        for r in csv.DictReader(f):
            if not r["p_value"]:
                continue
            seen["testable"] += 1
            if r["verdict"] in ("improved", "worsened"):
                seen["called"] += 1
                seen["called by " + r["method"]] += 1
            seen["decided by " + r["method"]] += 1
    total.update(seen)
    print(f"seed {seed}: " + ", ".join(f"{k} {v}" for k, v in sorted(seen.items())))

share = total["called"] / max(1, total["testable"])
print(f"total: {total['called']} of {total['testable']} testable comparisons called ({share:.1%}); "
      + ", ".join(f"{k} {v}" for k, v in sorted(total.items()) if k.startswith(("called by", "decided by"))))
sys.exit(1 if share > 0.05 or total["called by before_after"] > 0 else 0)
