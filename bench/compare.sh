#!/usr/bin/env bash
# Scale benchmark against DuckDB (issue: scale). For each size: generate a ServiceNow-form
# export with `sop-impact generate`, time `sop-impact metrics` and the same per-version metrics
# in DuckDB (Python package, installed into a virtual environment), check both give the same
# numbers, and time `report` end to end. Prints two Markdown tables (medians of REPS runs): the
# comparison, and cost per million tickets at each size (is the growth linear?).
#   bench/compare.sh [SIZES...]     default: 100000 1000000 10000000
# Environment: REPS (default 3), WORK (scratch directory, default bench/work; inputs are reused).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sop-impact-target}"
reps="${REPS:-3}"
work="${WORK:-bench/work}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000 10000000)
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
command -v bc >/dev/null || { echo "needs bc (apt-get install bc)" >&2; exit 1; }
venv="$HOME/.cache/sop-impact-bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import duckdb' 2>/dev/null || "$venv/bin/pip" install -q duckdb
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/sop-impact"
mkdir -p "$work"

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
measure() {
  local walls=() rss=()
  for _ in $(seq "${times:-$reps}"); do
    /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >"$work/stdout.txt" 2>"$work/stderr.txt" || { cat "$work/stderr.txt" >&2; exit 1; }
    read -r w r <"$work/time.txt"; walls+=("$w"); rss+=("$((r / 1024))")
  done
  echo "$(median "${walls[@]}") $(median "${rss[@]}")"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(uname -sm); DuckDB $("$venv/bin/python" -c 'import duckdb; print(duckdb.__version__)'); median of $reps runs"
echo
echo "| tickets | CSV MB | sop-impact metrics s | peak RSS MB | DuckDB s | DuckDB peak RSS MB | metrics / DuckDB | report s | report / metrics | same numbers |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
growth=()
for n in "${sizes[@]}"; do
  dir="$work/sn-$n"
  [ -f "$dir/tickets.csv" ] || "$bin" generate --quiet --out "$dir" --tickets "$n" --seed 1 --profile servicenow
  mb=$(( $(stat -c %s "$dir/tickets.csv") / 1000000 ))
  read -r mw mr <<<"$(measure "$bin" metrics --quiet --tickets "$dir/tickets.csv" --sops "$dir/sops.csv" --out "$dir/metrics")"
  read -r dw dr <<<"$(measure "$venv/bin/python" bench/duckdb_metrics.py "$dir/tickets.csv" "$dir/sops.csv")"
  cp "$work/stdout.txt" "$dir/duckdb.csv"
  same=$("$venv/bin/python" bench/check_same.py "$dir/metrics/metrics/sop_version_metrics.csv" "$dir/duckdb.csv" | tail -1)
  read -r rw rr <<<"$(measure "$bin" report --quiet --tickets "$dir/tickets.csv" --sops "$dir/sops.csv" --changes "$dir/changes.csv" --audits "$dir/audits.csv" --as-of 2026-01-31 --out "$dir/report")"
  ratio() { printf '%.2f' "$(echo "scale=4; $1 / $2" | bc)"; }
  echo "| $n | $mb | $mw | $mr | $dw | $dr | $(ratio "$mw" "$dw") | $rw | $(ratio "$rw" "$mw") | $same |"
  per() { printf "%.${2:-2}f" "$(echo "scale=4; $1 * 1000000 / $n" | bc)"; }
  growth+=("| $n | $(per "$mw") | $(per "$dw") | $(per "$rw") | $(per "$mr" 0) | $(per "$rr" 0) |")
done
echo
echo "Cost per million tickets (linear growth keeps each column flat; at small sizes the fixed start-up"
echo "cost dominates):"
echo
echo "| tickets | metrics s / 1M | DuckDB s / 1M | report s / 1M | metrics peak MB / 1M | report peak MB / 1M |"
echo "|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${growth[@]}"
