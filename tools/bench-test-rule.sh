#!/usr/bin/env bash
# test-rule scaling bench: times `newswatch test-rule --json` over ~3,000 generated articles
# (RSS files) with 100 and with 10,000 watches, and prints both times and their ratio.
# Acceptance: the 10,000-watch run takes at most 2x the 100-watch run.
#
#   tools/bench-test-rule.sh [RUNS]          (default 5 runs per size; median reported)
#   ARTICLES=3000 SIZES="100 10000" KEEP=1 tools/bench-test-rule.sh
#
# The corpus and watches are those of benches/matching.rs, written by the example
# `gen_bench_corpus` into a temporary directory (kept when KEEP=1). Uses hyperfine when it is
# installed (as extra output); the summary lines always come from a loop around `date` and
# /usr/bin/time: median wall time and median CPU time (user + system). Also times each config
# over an empty feed, which is the fixed cost of a run (start, config load, compiling watches).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
articles=${ARTICLES:-3000}
sizes=(${SIZES:-100 10000})
target_dir=${CARGO_TARGET_DIR:-target}
bin="$target_dir/release/newswatch"
gen="$target_dir/release/examples/gen_bench_corpus"

work=$(mktemp -d "${TMPDIR:-/tmp}/newswatch-bench-test-rule.XXXXXX")
if [[ "${KEEP:-0}" == 1 ]]; then
  echo "keeping $work"
else
  trap 'rm -rf "$work"' EXIT
fi

cargo build --release --quiet --bin newswatch --example gen_bench_corpus
"$gen" "$work" --articles "$articles" --watches "$(IFS=,; echo "${sizes[*]}")"
files=("$work"/feeds/*.xml)
printf '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>empty</title><link>https://empty.example/</link></channel></rss>\n' \
  >"$work/empty.xml"

echo "load: $(uptime)"
echo "articles: $articles in ${#files[@]} files; runs per measurement: $runs"

# Runs "$@" `runs` times (output discarded, after one warm-up run) and prints
# "WALL CPU": the median wall seconds and the median CPU seconds (user + system, all threads).
# CPU time is the steadier number on a machine busy with other work.
median_secs() {
  local walls=() cpus=() start end
  "$@" >/dev/null # warm-up (page cache)
  for ((i = 0; i < runs; i++)); do
    start=$(date +%s.%N)
    /usr/bin/time -f '%U %S' -o "$work/time.txt" "$@" >/dev/null
    end=$(date +%s.%N)
    walls+=("$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f", e - s }')")
    cpus+=("$(awk '{ printf "%.2f", $1 + $2 }' "$work/time.txt")")
  done
  printf '%s %s\n' "$(median "${walls[@]}")" "$(median "${cpus[@]}")"
}

median() {
  printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { printf "%.3f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

declare -A wall cpu
for n in "${sizes[@]}"; do
  config="$work/watches-$n.toml"
  cmd=("$bin" --config "$config" test-rule --json "${files[@]}")
  "${cmd[@]}" >"$work/out-$n.jsonl"
  lines=$(wc -l <"$work/out-$n.jsonl")
  matched=$(grep -c '"matches":\[{' "$work/out-$n.jsonl" || true)
  matches=$(grep -o '"watch":' "$work/out-$n.jsonl" | wc -l)
  rss_kb=$( { /usr/bin/time -f '%M' "${cmd[@]}" >/dev/null; } 2>&1 | tail -1)
  if command -v hyperfine >/dev/null; then
    hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$work/hf-$n.json" \
      "${cmd[*]}" "$bin --config $config test-rule --json $work/empty.xml"
  fi
  read -r wall[$n] cpu[$n] < <(median_secs "${cmd[@]}")
  read -r wall0 cpu0 < <(median_secs "$bin" --config "$config" test-rule --json "$work/empty.xml")
  echo "watches=$n: test-rule over $lines articles: ${wall[$n]} s wall, ${cpu[$n]} s CPU (medians of $runs);" \
    "fixed cost (empty feed): $wall0 s wall, $cpu0 s CPU"
  echo "watches=$n: $matched articles matched, $matches watch matches, max RSS ${rss_kb} KB"
done

if [[ ${#sizes[@]} -ge 2 ]]; then
  first=${sizes[0]}
  last=${sizes[-1]}
  awk -v a="${wall[$first]}" -v b="${wall[$last]}" -v c="${cpu[$first]}" -v d="${cpu[$last]}" \
    -v n1="$first" -v n2="$last" \
    'BEGIN { printf "ratio %s/%s watches: %.2f wall, %.2f CPU (goal <= 2)\n", n2, n1, b / a, d / c }'
fi
