#!/usr/bin/env bash
# Start-up memory bench: peak RSS of the daemon's start-up against `newswatch check` of the
# same configuration, with many feeds. Acceptance (issue 9, point 8): with 100,000 feeds the
# start-up peak is within 1.5x of check's.
#
#   tools/bench-startup-memory.sh                # 100,000 feeds
#   tools/bench-startup-memory.sh 10000          # another size
#   HOSTS=100000 tools/bench-startup-memory.sh   # every feed on a host of its own
#   NEWSWATCH_BIN=/tmp/newswatch-old tools/bench-startup-memory.sh   # measure another binary
#   ONCE=1 tools/bench-startup-memory.sh 10000   # also a whole `once` cycle over every feed
#
# What it does, in a temporary directory (kept when KEEP=1):
#   1. writes gen.toml: N feeds (`http://127.A.B.C:9/feed-I.xml`, spread over HOSTS loopback
#      addresses, all in 127.0.0.0/8; port 9 is closed, so every fetch is refused at once and
#      no traffic leaves the machine), one watch, `[email] transport = "file"`, a SQLite
#      database in the directory;
#   2. `newswatch check`, under GNU time (`/usr/bin/time -v`, "Maximum resident set size");
#   3. `newswatch run` on a fresh database, under GNU time: it is left running until it has
#      logged "newswatch started" and then SETTLE more seconds (default 10: its first
#      scheduling pass, reading every due feed and starting their polls, is well done by then;
#      the polls fail one by one against the closed port meanwhile), then sent SIGTERM;
#      its peak RSS covers the configuration load, the feed sync, the first schedule and
#      the polls it ran;
#   4. the same again on the database the first run left ("restart": every feed known);
#   5. with ONCE=1, `newswatch once` on a fresh database with a 2 s polling timeout: one
#      whole cycle over every feed (at 100,000 feeds this takes minutes: one recorded
#      failure per feed).
# It prints one line per measurement and the ratio of each to check's peak.
#
# Settings (environment): NEWSWATCH_BIN (default: `cargo build --release`, then
# $CARGO_TARGET_DIR/release/newswatch), SETTLE (seconds, 10), HOSTS (250), ONCE (0), KEEP (0),
# TMPDIR. Needs GNU time (Debian package `time`).
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-100000}
settle=${SETTLE:-10}
hosts=${HOSTS:-250}
if ((hosts < 1 || hosts > 16777215)); then
  echo "HOSTS must be between 1 and 16777215 (addresses in 127.0.0.0/8)" >&2
  exit 1
fi
if [[ ! -x /usr/bin/time ]] || ! /usr/bin/time -v true 2>&1 | grep -q 'Maximum resident'; then
  echo "GNU time is needed at /usr/bin/time (apt-get install time)" >&2
  exit 1
fi
if [[ -n "${NEWSWATCH_BIN:-}" ]]; then
  bin=$NEWSWATCH_BIN
else
  cargo build --release --quiet --bin newswatch
  bin=${CARGO_TARGET_DIR:-target}/release/newswatch
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/newswatch-bench-startup.XXXXXX")
if [[ "${KEEP:-0}" == 1 ]]; then
  echo "keeping $work"
else
  trap 'rm -rf "$work"' EXIT
fi

# gen.toml: N feeds, one watch, file transport; the database and alerts go in DB_DIR.
gen_config() {
  local db_dir=$1 timeout=$2
  mkdir -p "$db_dir/alerts"
  {
    cat <<EOF
[database]
url = "sqlite://$db_dir/newswatch.db"

[polling]
interval = "15m"
timeout = "$timeout"

[email]
from = "Newswatch <newswatch@localhost>"
transport = "file"
dir = "$db_dir/alerts"

[[watch]]
name = "Walrus"
query = 'walrus OR "sea lion"'
to = ["desk@example.org"]
EOF
    awk -v n="$n" -v hosts="$hosts" 'BEGIN {
      for (i = 0; i < n; i++) {
        h = 1 + i % hosts
        printf "\n[[feeds]]\nname = \"Feed %06d\"\nurl = \"http://127.%d.%d.%d:9/feed-%d.xml\"\n", \
          i, int(h / 65536) % 256, int(h / 256) % 256, h % 256, i
      }
    }'
  } >"$db_dir/gen.toml"
}

# Peak RSS in KiB from a GNU time -v output file.
peak_kib() {
  awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$1"
}

mib() {
  awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'
}

# Runs `newswatch run` in DIR until it logs "newswatch started", then SETTLE seconds more,
# then SIGTERM; prints its peak RSS in KiB.
measure_run() {
  local dir=$1 label=$2 log="$1/run-$2.log" timing="$1/time-run-$2.txt"
  /usr/bin/time -v -o "$timing" "$bin" --config "$dir/gen.toml" run 2>"$log" &
  local time_pid=$! child="" waited=0
  while ! grep -q 'newswatch started' "$log" 2>/dev/null; do
    if ! kill -0 "$time_pid" 2>/dev/null; then
      echo "newswatch run exited before it started; its log:" >&2
      tail -20 "$log" >&2
      exit 1
    fi
    sleep 0.2
    waited=$((waited + 1))
    if ((waited > 3000)); then
      echo "newswatch run did not start within 10 minutes" >&2
      exit 1
    fi
  done
  sleep "$settle"
  # GNU time does not pass signals on: stop newswatch itself, its only child.
  child=$(pgrep -P "$time_pid" || true)
  if [[ -n "$child" ]]; then
    kill -TERM "$child"
  fi
  wait "$time_pid" || true
  local polled
  polled=$(grep -c 'poll failed' "$log" || true)
  echo "  ($label: $polled polls recorded before SIGTERM; log $log)" >&2
  peak_kib "$timing"
}

gen_config "$work/a" 2s
echo "config: $n feeds over $hosts loopback addresses (port 9, closed), 1 watch, file transport"
echo "binary: $bin"
echo "load: $(uptime)"

/usr/bin/time -v -o "$work/a/time-check.txt" "$bin" --config "$work/a/gen.toml" check >/dev/null
check=$(peak_kib "$work/a/time-check.txt")
first=$(measure_run "$work/a" first)
restart=$(measure_run "$work/a" restart)

report() {
  printf '%-34s %8s MiB  %5sx check\n' "$1" "$(mib "$2")" \
    "$(awk -v a="$2" -v b="$check" 'BEGIN { printf "%.2f", a / b }')"
}
echo
echo "peak RSS, $n feeds:"
report "check" "$check"
report "run, start-up (fresh database)" "$first"
report "run, start-up (restart)" "$restart"
if [[ "${ONCE:-0}" == 1 ]]; then
  gen_config "$work/b" 2s
  /usr/bin/time -v -o "$work/b/time-once.txt" "$bin" --config "$work/b/gen.toml" once \
    2>"$work/b/once.log" || true
  report "once, whole cycle (fresh database)" "$(peak_kib "$work/b/time-once.txt")"
fi
