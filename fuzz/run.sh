#!/usr/bin/env bash
# Run every fuzz target for a bounded time (default one hour each, FUZZ_SECONDS to change), two at a
# time, at low priority. Not part of CI: its budget is for the tests. Needs cargo-fuzz
# (`cargo install cargo-fuzz`); the stable toolchain is enough with RUSTC_BOOTSTRAP=1.
# Findings are written to fuzz/artifacts/<target>/; the summary lines give executions per target.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-3600}"
export RUSTC_BOOTSTRAP=1
targets=(csv_blocks timestamps delimiters query_parameters quotes encodings)
cargo fuzz build --sanitizer none "${targets[@]/#/}" 2>/dev/null || for t in "${targets[@]}"; do cargo fuzz build --sanitizer none "$t"; done
run() {
  mkdir -p "corpus/$1" "logs"
  nice -n 19 cargo fuzz run --sanitizer none "$1" "corpus/$1" -- -max_total_time="$seconds" -max_len=4096 >"logs/$1.log" 2>&1
  echo "$1: $(grep -E '^(#[0-9]+\s+DONE|Done [0-9]+ runs)' "logs/$1.log" | tail -1) (log: fuzz/logs/$1.log)"
}
for pair in "csv_blocks timestamps" "delimiters query_parameters" "quotes encodings"; do
  for t in $pair; do run "$t" & done
  wait
done
