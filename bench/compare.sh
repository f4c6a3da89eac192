#!/usr/bin/env bash
# Scale benchmark against DuckDB. For each size: generate the benchmark export (ServiceNow list
# form, `generate --realistic --seed 1`: one process with half the tickets, resolution times in
# whole minutes, a quarter of the last four weeks' tickets still open at the export's end), time
# `sop-impact metrics` and the same per-version metrics in DuckDB (Python package, installed into
# a virtual environment), check both give the same numbers, time `metrics` on the same tickets as
# a typed Parquet file (timestamps as timestamps, counts as integers; written by DuckDB) and DuckDB
# on the same Parquet file (what a columnar input saves a columnar engine: the reference for
# sop-impact's Parquet / CSV), and time `report` end to end. Prints Markdown tables (medians of REPS runs): the comparison, the cost per
# million tickets at each size, and the cost of each step per million tickets
# (SOP_IMPACT_TIMINGS=1: one such run of `metrics` on the CSV right after each timed one, the
# median of each step over the REPS runs). The five commands take turns (metrics, DuckDB, Parquet,
# DuckDB on Parquet, report, then again), each timed run right after an untimed run of the same command: on a
# shared virtual machine a slow spell then falls on all of them, and no command is timed just
# after another one handed back gigabytes of memory (the next process faults its memory in
# afresh; a run timed right after DuckDB's was up to 30-40% slower).
#   bench/compare.sh [SIZES...]     default: 100000 1000000 10000000
# Environment: REPS (default 3), WORK (scratch directory, default bench/work; inputs are reused),
# CARGO_TARGET_DIR (default ~/.cache/sop-impact-release: a release build kept apart from the debug
# one the tests use).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sop-impact-release}"
reps="${REPS:-3}"
work="${WORK:-bench/work}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000 10000000)
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
command -v bc >/dev/null || { echo "needs bc (apt-get install bc)" >&2; exit 1; }
venv="$HOME/.cache/sop-impact-bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import duckdb' 2>/dev/null || "$venv/bin/pip" install -q duckdb
cargo build --release --locked --quiet
bin="$CARGO_TARGET_DIR/release/sop-impact"
mkdir -p "$work"

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# One run of a command: "wall-seconds peak-MiB"; its stdout kept in $work/stdout.txt.
once() {
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >"$work/stdout.txt" 2>"$work/stderr.txt" || { cat "$work/stderr.txt" >&2; exit 1; }
  read -r w r <"$work/time.txt"; echo "$w $((r / 1024))"
}
ratio() { printf '%.2f' "$(echo "scale=4; $1 / $2" | bc)"; }

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB; $(uname -sm); DuckDB $("$venv/bin/python" -c 'import duckdb; print(duckdb.__version__)'); sop-impact $(git rev-parse --short HEAD); median of $reps runs"
echo
echo "| tickets | CSV MB | sop-impact metrics s | peak RSS MiB | DuckDB s | DuckDB peak RSS MiB | metrics / DuckDB | Parquet MB | metrics on Parquet s | peak RSS MiB | Parquet / CSV | DuckDB on Parquet s | DuckDB's Parquet / CSV | report s | same numbers |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
growth=()
steps=()
for n in "${sizes[@]}"; do
  dir="$work/sn-realistic-$n"
  [ -f "$dir/tickets.csv" ] || "$bin" generate --quiet --out "$dir" --tickets "$n" --seed 1 --profile servicenow --realistic
  [ -f "$dir/tickets.parquet" ] || "$venv/bin/python" bench/to_parquet.py "$dir/tickets.csv" "$dir/tickets.parquet"
  mb=$(( $(stat -c %s "$dir/tickets.csv") / 1000000 ))
  pmb=$(( $(stat -c %s "$dir/tickets.parquet") / 1000000 ))
  # metrics gets what DuckDB gets (tickets and SOPs); report also changes and audit findings
  inputs=(--sops "$dir/sops.csv")
  all=(--sops "$dir/sops.csv" --changes "$dir/changes.csv" --audits "$dir/audits.csv")
  metrics_csv=("$bin" metrics --quiet --tickets "$dir/tickets.csv" "${inputs[@]}" --out "$dir/metrics")
  duckdb=("$venv/bin/python" bench/duckdb_metrics.py "$dir/tickets.csv" "$dir/sops.csv")
  metrics_parquet=("$bin" metrics --quiet --tickets "$dir/tickets.parquet" "${inputs[@]}" --out "$dir/metrics-parquet")
  duckdb_parquet=("$venv/bin/python" bench/duckdb_metrics.py "$dir/tickets.parquet" "$dir/sops.csv")
  report=("$bin" report --quiet --tickets "$dir/tickets.csv" "${all[@]}" --out "$dir/report")
  # an untimed run, then the timed one
  warm() { once "$@" >/dev/null; once "$@"; }
  mws=() mrs=() dws=() drs=() pws=() prs=() qws=() rws=()
  step_names=('reading and validating' 'attributing' 'computing metrics and comparing' 'writing the tables')
  step_times=("" "" "" "")
  for _ in $(seq "$reps"); do
    read -r w r <<<"$(warm "${metrics_csv[@]}")"; mws+=("$w"); mrs+=("$r")
    SOP_IMPACT_TIMINGS=1 "${metrics_csv[@]}" 2>"$dir/timings.txt" >/dev/null
    for k in "${!step_names[@]}"; do
      step_times[k]+=" $(awk -v s="${step_names[k]}" 'index($0, s) {print $2}' "$dir/timings.txt" | head -1)"
    done
    read -r w r <<<"$(warm "${duckdb[@]}")"; dws+=("$w"); drs+=("$r")
    # DuckDB's numbers, compared with those of metrics below
    cp "$work/stdout.txt" "$dir/duckdb.csv"
    read -r w r <<<"$(warm "${metrics_parquet[@]}")"; pws+=("$w"); prs+=("$r")
    read -r w _ <<<"$(warm "${duckdb_parquet[@]}")"; qws+=("$w")
    cp "$work/stdout.txt" "$dir/duckdb-parquet.csv"
    read -r w _ <<<"$(warm "${report[@]}")"; rws+=("$w")
  done
  mw=$(median "${mws[@]}"); mr=$(median "${mrs[@]}"); dw=$(median "${dws[@]}"); dr=$(median "${drs[@]}")
  pw=$(median "${pws[@]}"); pr=$(median "${prs[@]}"); qw=$(median "${qws[@]}"); rw=$(median "${rws[@]}")
  same=$("$venv/bin/python" bench/check_same.py "$dir/metrics/metrics/sop_version_metrics.csv" "$dir/duckdb.csv" | tail -1)
  cmp -s "$dir/metrics/metrics/sop_version_metrics.csv" "$dir/metrics-parquet/metrics/sop_version_metrics.csv" \
    || same="$same; PARQUET DIFFERS"
  cmp -s "$dir/duckdb.csv" "$dir/duckdb-parquet.csv" || same="$same; DUCKDB'S PARQUET DIFFERS"
  echo "| $n | $mb | $mw | $mr | $dw | $dr | $(ratio "$mw" "$dw") | $pmb | $pw | $pr | $(ratio "$pw" "$mw") | $qw | $(ratio "$qw" "$dw") | $rw | $same |"
  per() { printf "%.${2:-2}f" "$(echo "scale=4; $1 * 1000000 / $n" | bc)"; }
  growth+=("| $n | $(per "$mw") | $(per "$dw") | $(per "$pw") | $(per "$rw") | $(per "$mr" 0) |")
  row="| $n |"
  for k in "${!step_names[@]}"; do
    # shellcheck disable=SC2086 # the runs' times, one word each
    row+=" $(per "$(median ${step_times[k]})") |"
  done
  steps+=("$row")
done
echo
echo "Cost per million tickets (linear growth keeps each column flat; at small sizes the fixed start-up"
echo "cost dominates):"
echo
echo "| tickets | metrics s / 1M | DuckDB s / 1M | metrics on Parquet s / 1M | report s / 1M | metrics peak MiB / 1M |"
echo "|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${growth[@]}"
echo
echo "Each step of \`metrics\` (CSV input, SOP_IMPACT_TIMINGS=1, median of $reps runs), seconds per million tickets:"
echo
echo "| tickets | read and validate | attribute | metric tables and comparisons (side by side) | write tables |"
echo "|---:|---:|---:|---:|---:|"
printf '%s\n' "${steps[@]}"
