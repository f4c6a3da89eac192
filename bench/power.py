#!/usr/bin/env python3
"""Power and false alarms on generated desks whose SOPs change every few months.

For each seed: `sop-impact generate --sop-every-months M` (three changes in five move MTTR, the
reopen or the escalation rate by 20-40%, the others nothing; truth.json says which), then
`sop-impact metrics` at the default windows. A planted effect is found when its metric's row is
called in the planted direction; a change without an effect on a metric is a false alarm when
that row is called at all. Standard library only.

    python3 bench/power.py --bin target/release/sop-impact --tickets 1000000 --seeds 1 2 3
"""
import argparse, csv, json, os, subprocess, sys, tempfile, time

METRICS = {"mttr_median_h": "mttr", "reopen_rate": "reopen_rate", "escalation_rate": "escalation_rate"}


def run(cmd):
    started = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.time() - started


def one_seed(args, seed, work):
    data, out = os.path.join(work, f"d{seed}"), os.path.join(work, f"o{seed}")
    gen = [args.bin, "generate", "--quiet", "--out", data, "--tickets", str(args.tickets), "--seed", str(seed),
           "--sop-every-months", str(args.every), "--months", str(args.months)] + args.generate
    t_gen = run(gen)
    p = lambda f: os.path.join(data, f)
    t_metrics = run([args.bin, "metrics", "--quiet", "--tickets", p("tickets.csv"), "--sops", p("sops.csv"),
                     "--changes", p("changes.csv"), "--audits", p("audits.csv"), "--out", out])
    truth = json.load(open(p("truth.json")))
    expected = {(c["sop_id"], c["to_version"]): c["expected"] for c in truth["changes"]}
    rows = list(csv.DictReader(open(os.path.join(out, "comparisons.csv"))))
    tally = {m: [0, 0, 0, 0] for m in METRICS}  # planted, found, without effect, called
    misses = []
    for r in rows:
        if r["metric"] not in METRICS or r.get("stratum", "") not in ("", "all"):
            continue
        want = expected.get((r["sop_id"], r["to_version"]), {}).get(r["metric"])
        if want is None:
            continue
        t = tally[r["metric"]]
        if want in ("improved", "worsened"):
            t[0] += 1
            if r["verdict"] == want:
                t[1] += 1
            else:
                misses.append(f'{r["sop_id"]} {r["to_version"]} {r["metric"]} want {want} got {r["verdict"]} '
                              f'(average {r.get("average_effect", "")}, p {r.get("p_value", "")}, q {r.get("p_adjusted", "")})')
        else:
            t[2] += 1
            t[3] += r["verdict"] in ("improved", "worsened")
    return tally, misses, t_gen, t_metrics


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--every", type=int, default=3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("generate", nargs="*", help="more generate options, after --")
    args = ap.parse_args()
    total = {m: [0, 0, 0, 0] for m in METRICS}
    with tempfile.TemporaryDirectory() as work:
        for seed in args.seeds:
            tally, misses, t_gen, t_metrics = one_seed(args, seed, work)
            line = ", ".join(f"{m} {t[1]}/{t[0]} found, {t[3]}/{t[2]} false" for m, t in tally.items())
            print(f"seed {seed}: {line} (generate {t_gen:.0f} s, metrics {t_metrics:.0f} s)")
            for m in misses:
                print(f"  missed: {m}")
            for m, t in tally.items():
                total[m] = [a + b for a, b in zip(total[m], t)]
    planted = sum(t[0] for t in total.values())
    found = sum(t[1] for t in total.values())
    without = sum(t[2] for t in total.values())
    called = sum(t[3] for t in total.values())
    print(f"all seeds: {found}/{planted} planted effects found ({100 * found / max(planted, 1):.0f}%), "
          f"{called}/{without} rows without an effect called ({100 * called / max(without, 1):.1f}%)")


if __name__ == "__main__":
    sys.exit(main())
