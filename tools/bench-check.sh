#!/usr/bin/env bash
# `check` scaling bench: generates configurations of N `[[watch]]` tables, each with one error
# of a kind, and times `newswatch check` over each (release build).
# Acceptance (issue 9): 100,000 watches each with an error are checked in under 5 s.
#
#   tools/bench-check.sh                                 (30,000 and 100,000 watches, every kind)
#   SIZES="100000" KINDS="bad-query mixed" RUNS=3 tools/bench-check.sh
#   BIN=/path/to/newswatch tools/bench-check.sh          (time that binary; no build)
#   KEEP=1 tools/bench-check.sh                          (keep the generated configurations)
#
# Kinds: valid (no error), unknown-key (colour = "blue"), bad-type (max_per_hour = "many"),
# bad-query (an unknown list @nolistN), mixed (the three in turn). Prints, per configuration,
# the exit status, the number of problems reported, the median wall time, the median CPU time
# (user + system: the steadier number on a machine busy with other work) and the max RSS.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-1}
sizes=(${SIZES:-30000 100000})
kinds=(${KINDS:-valid unknown-key bad-type bad-query mixed})
target_dir=${CARGO_TARGET_DIR:-target}
if [[ -z "${BIN:-}" ]]; then
  cargo build --release --quiet --bin newswatch
  BIN="$target_dir/release/newswatch"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/newswatch-bench-check.XXXXXX")
if [[ "${KEEP:-0}" == 1 ]]; then
  echo "keeping $work"
else
  trap 'rm -rf "$work"' EXIT
fi

# Writes a configuration of $1 watches with errors of kind $2.
generate() {
  awk -v n="$1" -v kind="$2" 'BEGIN {
    print "[email]\nfrom = \"Newswatch <newswatch@localhost>\"\ntransport = \"file\"\n"
    print "[lists]\nkorea = [\"North Korea\", \"КНДР\"]\n"
    split("unknown-key bad-type bad-query", mixed, " ")
    for (i = 1; i <= n; i++) {
      k = (kind == "mixed") ? mixed[(i - 1) % 3 + 1] : kind
      query = (k == "bad-query") ? "@korea AND @nolist" i : "@korea AND missile" i
      printf "[[watch]]\nname = \"watch %d\"\nquery = \"%s\"\nto = [\"analyst@example.org\"]\n", i, query
      if (k == "unknown-key") print "colour = \"blue\""
      if (k == "bad-type") print "max_per_hour = \"many\""
      print ""
    }
  }' >"$3"
}

median() {
  printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { printf "%.2f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

echo "binary: $BIN; load: $(uptime)"
for n in "${sizes[@]}"; do
  for kind in "${kinds[@]}"; do
    config="$work/watches-$n-$kind.toml"
    generate "$n" "$kind" "$config"
    walls=()
    cpus=()
    for ((i = 0; i < runs; i++)); do
      start=$(date +%s.%N)
      set +e
      /usr/bin/time -f '%U %S %M' -o "$work/time.txt" "$BIN" --config "$config" check \
        >"$work/out.txt" 2>"$work/err.txt"
      status=$?
      set -e
      end=$(date +%s.%N)
      walls+=("$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')")
      cpus+=("$(tail -1 "$work/time.txt" | awk '{ printf "%.2f", $1 + $2 }')")
    done
    problems=$(grep -c ': error: ' "$work/err.txt" || true)
    echo "watches=$n kind=$kind: exit $status, $problems problems reported," \
      "$(median "${walls[@]}") s wall, $(median "${cpus[@]}") s CPU (medians of $runs)," \
      "max RSS $(tail -1 "$work/time.txt" | awk '{ print $3 }') KB"
  done
done
