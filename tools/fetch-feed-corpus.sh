#!/usr/bin/env bash
# Rebuilds the feed corpus under tests/data/feeds/ that tests/feed_corpus.rs parses.
#
# Two public sources of real and malformed feeds:
#
#   * feedparser's test suite, from the feedparser sdist on PyPI (BSD-2-Clause). The sdist is
#     downloaded with pip (version pinned, checksum verified) and a deterministic subset of its
#     tests/ directory is copied: every file of a directory with at most $PER_DIR files, else
#     $PER_DIR files spread evenly over the directory's sorted listing (the encoding tests get
#     $PER_DIR_ENCODING, as they exercise our decoder), plus the largest feed on purpose.
#   * feed-rs's own fixtures (MIT), from the crate source cargo has already fetched for this
#     project: every input file (the *.serde.json expected outputs are left out).
#
# Each source's licence text is copied next to its files. Run from anywhere:
#     tools/fetch-feed-corpus.sh
# It replaces tests/data/feeds/{feedparser,feed-rs}; the result is meant to be committed.
set -euo pipefail

FEEDPARSER_VERSION=6.0.14
FEEDPARSER_SHA256=088679b0c4b543ee211a820dd544698c76a402122eae7473c04a43425f283d06
FEED_RS_VERSION=3.0.0
PER_DIR=40
PER_DIR_ENCODING=80

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/tests/data/feeds"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- feedparser -------------------------------------------------------------------------------
pip download "feedparser==$FEEDPARSER_VERSION" --no-deps --no-binary :all: -d "$work" --quiet
sdist="$work/feedparser-$FEEDPARSER_VERSION.tar.gz"
echo "$FEEDPARSER_SHA256  $sdist" | sha256sum --check --quiet
tar -xzf "$sdist" -C "$work"
src="$work/feedparser-$FEEDPARSER_VERSION"

rm -rf "$out/feedparser"
mkdir -p "$out/feedparser"
cp "$src/LICENSE" "$out/feedparser/LICENSE"

# Every directory under tests/ that holds feed files, in a stable order.
(cd "$src" && find tests -type f \( -name '*.xml' -o -name '*.gz' -o -name '*.z' \) -printf '%h\n') |
    LC_ALL=C sort -u >"$work/dirs"
while read -r dir; do
    limit=$PER_DIR
    [[ $dir == tests/encoding ]] && limit=$PER_DIR_ENCODING
    (cd "$src" && find "$dir" -maxdepth 1 -type f \( -name '*.xml' -o -name '*.gz' -o -name '*.z' \)) |
        LC_ALL=C sort >"$work/files"
    total=$(wc -l <"$work/files")
    if ((total <= limit)); then
        cat "$work/files"
    else
        # Files number 0, total/limit, 2*total/limit, ... (integer arithmetic): evenly spread.
        awk -v total="$total" -v limit="$limit" '
            BEGIN { picked = 0 }
            { if (picked < limit && NR - 1 == int(picked * total / limit)) { print; picked++ } }
        ' "$work/files"
    fi
done <"$work/dirs" >"$work/selected"
echo "tests/wellformed/sanitize/large_atom_feed_that_needs_css_sanitisation.xml" >>"$work/selected"

LC_ALL=C sort -u "$work/selected" | while read -r file; do
    dest="$out/feedparser/${file#tests/}"
    mkdir -p "$(dirname "$dest")"
    cp "$src/$file" "$dest"
done

# --- feed-rs ----------------------------------------------------------------------------------
feed_rs=$(cd "$root" && cargo metadata --format-version 1 --locked 2>/dev/null |
    python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
for p in meta["packages"]:
    if p["name"] == "feed-rs" and p["version"] == sys.argv[1]:
        print(os.path.dirname(p["manifest_path"]))
' "$FEED_RS_VERSION")
rm -rf "$out/feed-rs"
if [[ -n $feed_rs && -d $feed_rs/fixture ]]; then
    mkdir -p "$out/feed-rs"
    cp "$feed_rs/LICENSE-MIT" "$out/feed-rs/LICENSE-MIT"
    (cd "$feed_rs/fixture" && find . -type f ! -name '*.serde.json') | LC_ALL=C sort |
        while read -r file; do
            dest="$out/feed-rs/${file#./}"
            mkdir -p "$(dirname "$dest")"
            cp "$feed_rs/fixture/$file" "$dest"
        done
else
    echo "feed-rs $FEED_RS_VERSION fixtures not found (run cargo fetch); skipped" >&2
fi

count() { find "$1" -type f ! -name 'LICENSE*' | wc -l; }
echo "feedparser: $(count "$out/feedparser") files, feed-rs: $(count "$out/feed-rs" 2>/dev/null || echo 0) files," \
    "$(du -sh --apparent-size "$out" | cut -f1) in $out"
