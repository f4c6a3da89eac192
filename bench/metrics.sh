#!/usr/bin/env bash
# Benchmark: generate N tickets with `sop-impact generate`, then time `validate` and `metrics`
# on them, printing wall time and peak RSS (GNU time). Usage:
#   bench/metrics.sh [SIZES...]        default: 1000000 10000000
# Environment: PROFILE=canonical|servicenow (default servicenow), REPS (default 3), WORK (scratch
# directory, default bench/work), REALISTIC=1 (generate --realistic: one process with half the
# tickets, minutes, open tickets at the end: the shapes that cost on real exports). Results go to stdout as a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sop-impact-release}"
profile="${PROFILE:-servicenow}"
reps="${REPS:-3}"
work="${WORK:-bench/work}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }

cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/sop-impact"
mkdir -p "$work"

# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

measure() { # label, command... → "wall_s rss_mb" medians over $reps runs
  local walls=() rsss=()
  for _ in $(seq "$reps"); do
    /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || { cat "$work/stderr.txt" >&2; exit 1; }
    read -r w r < "$work/time.txt"
    walls+=("$w"); rsss+=("$((r / 1024))")
  done
  echo "$(median "${walls[@]}") $(median "${rsss[@]}")"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -m); profile $profile; median of $reps runs"
echo
echo "| tickets | input MB | generate s | validate s | validate peak RSS MB | metrics s | metrics peak RSS MB |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
  dir="$work/$profile-$n"
  start=$(date +%s.%N)
  "$bin" generate --quiet --out "$dir" --tickets "$n" --seed 1 --profile "$profile" ${REALISTIC:+--realistic}
  gen=$(echo "$(date +%s.%N) - $start" | bc)
  mb=$(( $(stat -c %s "$dir/tickets.csv") / 1000000 ))
  args=(--tickets "$dir/tickets.csv" --sops "$dir/sops.csv" --changes "$dir/changes.csv" --audits "$dir/audits.csv")
  read -r vw vr <<<"$(measure "$bin" validate "${args[@]}" --out "$dir/validate")"
  read -r mw mr <<<"$(measure "$bin" metrics "${args[@]}" --out "$dir/metrics")"
  printf '| %s | %s | %.1f | %s | %s | %s | %s |\n' "$n" "$mb" "$gen" "$vw" "$vr" "$mw" "$mr"
done
