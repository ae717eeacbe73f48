#!/usr/bin/env python3
"""Check that the labels file still covers the evaluation feeds.

    python3 eval/check_labels.py [--feeds DIR] [--labels PATH]

Reports feed items that mention North Korea (English or Russian spellings)
but have no row in the labels file, and label rows whose link is not in any
feed. Reads the RSS files in place; never copies them. Standard library only.
"""

import argparse
import csv
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
NK = re.compile(
    r"north(ern)? korea|n\.? korea|dprk|pyongyang|kim jong|kim jung|kim yo"
    r"|кндр|северн\w* коре|северокор|пхень|ким чен|корейск\w* народн",
    re.IGNORECASE,
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--feeds",
        default=os.environ.get("NEWSWATCH_EVAL_FEEDS"),
        required="NEWSWATCH_EVAL_FEEDS" not in os.environ,
        help="the directory of the corpus's RSS files (default: $NEWSWATCH_EVAL_FEEDS)",
    )
    ap.add_argument("--labels", default=str(HERE / "labels" / "news-2023.tsv"))
    args = ap.parse_args()

    with open(args.labels, encoding="utf-8", newline="") as f:
        labelled = {r["link"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)}

    links, missing = set(), []
    for path in sorted(glob.glob(os.path.join(args.feeds, "*.xml"))):
        for item in ET.parse(path).getroot().iter("item"):
            link = (item.findtext("link") or "").strip()
            title = (item.findtext("title") or "").strip()
            text = title + " " + (item.findtext("description") or "")
            links.add(link)
            if NK.search(text) and link not in labelled:
                missing.append((os.path.basename(path), title, link))

    print(f"feed items: {len(links)}, label rows: {len(labelled)}")
    print(f"items mentioning North Korea without a label row: {len(missing)}")
    for name, title, link in missing:
        print(f"  {name}: {title}\n      {link}")
    stale = sorted(labelled - links)
    print(f"label rows not found in the feeds: {len(stale)}")
    for link in stale:
        print(f"  {link}")
    sys.exit(1 if missing or stale else 0)


if __name__ == "__main__":
    main()
