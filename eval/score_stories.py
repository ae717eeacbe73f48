#!/usr/bin/env python3
"""Score the story grouping of `newswatch test-rule --json` output against hand story labels.

Usage (from the repository root):

    newswatch test-rule --json --watch "Russia–DPRK military ties" \
        $NEWSWATCH_EVAL_FEEDS/*.xml | python3 eval/score_stories.py

    python3 eval/score_stories.py --check     # every label row still in the feeds?

Input (stdin): JSON lines, one object per article:
    {"link": ..., "title": ..., "published": ..., "matches": [
        {"watch": ..., "terms": [...], "story": {"id": <link of the story's first article>,
                                                 "role": "first" | "copy" | "update"}}]}
Only the matches of one watch count (--watch NAME; default: the first watch seen).

Labels (--labels, default eval/labels/news-2023-stories.tsv next to this script): TSV
with header `link event development lang published title`; see eval/README.md. Two
items with the same (event, development) report the same news; same event but a
different development is an update of the same story.

Every pair of labelled, matched, dated items published within --window hours (48)
of each other is scored; b is the later item of a pair. The tool "groups" a pair
when both items have the same story id. Reported: copy precision (of the items the
tool suppresses as copies, % with an earlier item of their story and the same
development), grouping precision (grouped pairs of the same event), same-event and
same-development recall (such pairs grouped), copy recall (items repeating an earlier
development within the window that are suppressed), the same copy figures per pair
(diagnostic), and alert counts with and without grouping. Exit status 0 (1 only for
unusable input or, with --check, for problems in the labels).

Standard library only.
"""

import argparse
import csv
import glob
import json
import os
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from itertools import combinations
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in eval/ from importing score.py
sys.path.insert(0, str(Path(__file__).resolve().parent))
from score import canonical_link, host_path, norm_watch, specific_path  # noqa: E402

DEFAULT_LABELS = Path(__file__).resolve().parent / "labels" / "news-2023-stories.tsv"
COLUMNS = ("link", "event", "development", "lang", "published", "title")
ROLES = ("first", "copy", "update")
GOALS = {  # metric -> (goal, description)
    "copy_precision": (0.95, "of items suppressed as copies, an earlier same-development item in the story"),
    "grouping_precision": (0.90, "of grouped pairs, same event"),
    "same_event_recall": (0.70, "of same-event pairs, grouped"),
}


def parse_time(value):
    """RFC 3339 (or ISO 8601) to an aware datetime; None if missing or unparsable."""
    if not value or not isinstance(value, str):
        return None
    v = value.strip()
    if v.endswith(("Z", "z")):
        v = v[:-1] + "+00:00"
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


class StoryLabels:
    def __init__(self, path: Path):
        self.path = path
        self.rows = {}  # exact link -> dict
        self.by_canon = {}
        self.by_path = {}
        self.problems = []  # (lineno, text): consistency problems, reported by --check
        dev_event = {}
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            missing = set(COLUMNS) - set(reader.fieldnames or [])
            if missing:
                sys.exit(f"score_stories.py: {path}: missing columns {sorted(missing)}")
            for lineno, row in enumerate(reader, start=2):
                link = (row["link"] or "").strip()
                rec = {k: (row[k] or "").strip() for k in COLUMNS}
                rec["link"] = link
                if not link or not rec["event"] or not rec["development"]:
                    sys.exit(f"score_stories.py: {path}:{lineno}: empty link, event or development")
                if link in self.rows:
                    sys.exit(f"score_stories.py: {path}:{lineno}: duplicate link {link}")
                if rec["lang"] not in ("en", "ru"):
                    self.problems.append((lineno, f"lang {rec['lang']!r} is not en/ru"))
                if rec["published"] and parse_time(rec["published"]) is None:
                    self.problems.append((lineno, f"published {rec['published']!r} is not RFC 3339"))
                prev = dev_event.setdefault(rec["development"], rec["event"])
                if prev != rec["event"]:
                    self.problems.append((lineno, f"development {rec['development']!r} is used with "
                                                  f"events {prev!r} and {rec['event']!r}"))
                self.rows[link] = rec
                c = canonical_link(link)
                self.by_canon[c] = None if c in self.by_canon else link
                hp = host_path(link)
                self.by_path[hp] = None if hp in self.by_path else link

    def lookup(self, link: str):
        """The labelled link this article link refers to, or None (as in score.py)."""
        link = link.strip()
        if link in self.rows:
            return link
        found = self.by_canon.get(canonical_link(link))
        if found is None and "?" not in link:
            found = self.by_path.get(host_path(link))
            if found is not None and not specific_path(found):
                found = None
        return found


def read_articles(stream, watch):
    """Return (matched articles of the watch, watch name used, notes).

    Each article: {"link", "title", "published", "story_id", "role"}; deduplicated by
    link (first matched occurrence wins)."""
    objs, bad = [], 0
    for lineno, line in enumerate(stream, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            if bad <= 5:
                print(f"warning: stdin line {lineno}: not JSON: {line[:120]!r}", file=sys.stderr)
            continue
        if not isinstance(obj, dict) or not obj.get("link"):
            bad += 1
            if bad <= 5:
                print(f"warning: stdin line {lineno}: no 'link' field", file=sys.stderr)
            continue
        objs.append(obj)
    if bad:
        print(f"warning: {bad} unusable input line(s) skipped", file=sys.stderr)

    watches = []  # in order of first appearance
    for obj in objs:
        for m in obj.get("matches") or []:
            name = str(m.get("watch", ""))
            if norm_watch(name) not in [norm_watch(w) for w in watches]:
                watches.append(name)
    notes = []
    if watch is None:
        if not watches:
            return [], None, len(objs), notes
        watch_name = watches[0]
        if len(watches) > 1:
            notes.append(f"{len(watches)} watches in the input; scoring the first, {watch_name!r} "
                         f"(choose with --watch)")
    else:
        watch_name = watch
        if norm_watch(watch) not in [norm_watch(w) for w in watches]:
            notes.append(f"no match of watch {watch!r} in the input (watches seen: "
                         f"{', '.join(map(repr, watches)) or 'none'})")
    wanted = norm_watch(watch_name)

    articles, seen = [], set()
    no_story = bad_role = 0
    for obj in objs:
        ms = [m for m in obj.get("matches") or [] if norm_watch(str(m.get("watch", ""))) == wanted]
        link = str(obj["link"]).strip()
        if not ms or link in seen:
            continue
        seen.add(link)
        story = ms[0].get("story")
        if isinstance(story, dict) and story.get("id"):
            sid, role = str(story["id"]).strip(), str(story.get("role", ""))
        else:  # not grouped at all: its own story
            no_story += 1
            sid, role = link, "first"
        if role not in ROLES:
            bad_role += 1
        articles.append({"link": link, "title": " ".join(str(obj.get("title") or "").split()),
                         "published": obj.get("published"), "story_id": sid, "role": role})
    if no_story:
        notes.append(f"{no_story} match(es) without a \"story\" field: each counted as its own "
                     f"story, role first")
    if bad_role:
        notes.append(f"{bad_role} match(es) with a role other than first/copy/update "
                     f"(counted as alerting, never as copies)")
    # consistency of the tool's own output, for the implementer
    firsts = {a["story_id"] for a in articles if a["role"] == "first"}
    odd_first = sum(1 for a in articles if a["role"] == "first" and a["story_id"] != a["link"])
    orphan = sum(1 for a in articles if a["role"] in ("copy", "update") and a["story_id"] not in firsts)
    if odd_first:
        notes.append(f"{odd_first} match(es) with role first whose story id is not their own link")
    if orphan:
        notes.append(f"{orphan} copy/update match(es) whose story id is no matched article's "
                     f"link with role first (first article outside the input?)")
    return articles, watch_name, len(objs), notes


def ratio(num, den):
    return num / den if den else None


def pct(x):
    return "   n/a" if x is None else f"{100 * x:5.1f}%"


def score(articles, labels, window_hours):
    labelled, unlabelled, undated = [], 0, 0
    loose = 0
    for order, a in enumerate(articles):
        key = labels.lookup(a["link"])
        if key is None:
            unlabelled += 1
            continue
        if key != a["link"]:
            loose += 1
        rec = labels.rows[key]
        t = parse_time(a["published"])  # the tool's time; the label's is for reference
        if t is None:
            undated += 1
            continue
        labelled.append(dict(a, key=key, time=t, order=order, event=rec["event"],
                             dev=(rec["event"], rec["development"]), lang=rec["lang"]))
    labelled.sort(key=lambda x: (x["time"], x["order"]))
    window = timedelta(hours=window_hours)

    c = dict.fromkeys(["pairs", "copy", "copy_same_dev", "grouped", "grouped_same_event",
                       "same_event", "same_event_grouped", "same_dev", "same_dev_grouped",
                       "same_dev_copy", "same_event_other_dev", "different_event"], 0)
    wrong_copies, wrong_groups, missed_dev, missed_event = [], [], [], []
    wrong_items = []  # copies with no earlier same-development item in their story
    for a, b in combinations(labelled, 2):  # sorted, so b is the later one
        if b["time"] - a["time"] > window:
            continue
        c["pairs"] += 1
        grouped = a["story_id"] == b["story_id"]
        copy = grouped and b["role"] == "copy"
        same_event = a["event"] == b["event"]
        same_dev = a["dev"] == b["dev"]
        if same_dev:
            c["same_dev"] += 1
        elif same_event:
            c["same_event_other_dev"] += 1
        else:
            c["different_event"] += 1
        if same_event:
            c["same_event"] += 1
            c["same_event_grouped"] += grouped
        if same_dev:
            c["same_dev_grouped"] += grouped
            c["same_dev_copy"] += copy
            if not grouped:
                missed_dev.append((a, b))
        elif same_event and not grouped:
            missed_event.append((a, b))
        if grouped:
            c["grouped"] += 1
            c["grouped_same_event"] += same_event
            if not same_event:
                wrong_groups.append((a, b))
        if copy:
            c["copy"] += 1
            c["copy_same_dev"] += same_dev
            if not same_dev:
                wrong_copies.append((a, b))

    # Per suppressed item: the tool's output says a copy's story, not which article it
    # repeats, so a copy is counted right when an earlier item of its story has the same
    # development (at any distance in time), wrong otherwise. Per redundant item: an item
    # with an earlier same-development item within the window should be a copy of its story.
    c.update(copies=0, copies_right=0, redundant=0, redundant_suppressed=0)
    for i, b in enumerate(labelled):
        earlier = labelled[:i]
        if b["role"] == "copy":
            c["copies"] += 1
            right = any(a["story_id"] == b["story_id"] and a["dev"] == b["dev"] for a in earlier)
            c["copies_right"] += right
            if not right:
                wrong_items.append(b)
        near = [a for a in earlier if a["dev"] == b["dev"] and b["time"] - a["time"] <= window]
        if near:
            c["redundant"] += 1
            c["redundant_suppressed"] += (b["role"] == "copy"
                                          and any(a["story_id"] == b["story_id"] for a in near))

    metrics = {
        "copy_precision": ratio(c["copies_right"], c["copies"]),
        "copy_precision_pairwise": ratio(c["copy_same_dev"], c["copy"]),
        "grouping_precision": ratio(c["grouped_same_event"], c["grouped"]),
        "same_event_recall": ratio(c["same_event_grouped"], c["same_event"]),
        "same_development_recall": ratio(c["same_dev_grouped"], c["same_dev"]),
        "copy_recall": ratio(c["redundant_suppressed"], c["redundant"]),
        "copy_recall_pairwise": ratio(c["same_dev_copy"], c["same_dev"]),
    }
    roles = {r: sum(1 for a in articles if a["role"] == r) for r in ROLES}
    other = len(articles) - sum(roles.values())
    alerts = {
        "matches": len(articles),
        "alerts_without_grouping": len(articles),
        "alerts_with_grouping": roles["first"] + roles["update"] + other,
        "stories_started": roles["first"],
        "updates_threaded": roles["update"],
        "copies_suppressed": roles["copy"],
        "other_roles": other,
        # what perfect grouping would give on the labelled items (no time window)
        "gold_developments": len({x["dev"] for x in labelled}),
        "gold_events": len({x["event"] for x in labelled}),
    }
    items = {"matched": len(articles), "labelled_dated": len(labelled),
             "unlabelled": unlabelled, "undated": undated, "loose_link_matches": loose}
    lists = {"wrong_copy_items": wrong_items, "wrong_copies": wrong_copies, "wrong_groupings": wrong_groups,
             "missed_same_development": missed_dev, "missed_same_event": missed_event}
    return items, c, metrics, alerts, lists


def pair_json(a, b):
    def one(x):
        return {"link": x["link"], "title": x["title"], "published": x["time"].isoformat(),
                "event": x["event"], "development": x["dev"][1], "story_id": x["story_id"],
                "role": x["role"]}
    return {"a": one(a), "b": one(b)}


def print_report(args, watch_name, n_objs, notes, items, c, metrics, alerts, lists):
    print(f"labels: {args.labels}")
    print(f"articles on stdin: {n_objs}; watch: {watch_name!r}; matched: {items['matched']}")
    print(f"  labelled and dated: {items['labelled_dated']}   skipped: {items['unlabelled']} "
          f"without a label row, {items['undated']} without a published time")
    if items["loose_link_matches"]:
        print(f"  note: {items['loose_link_matches']} link(s) matched a label only after URL "
              f"normalisation")
    for n in notes:
        print(f"  note: {n}")
    print(f"\npairs within {args.window:g} h: {c['pairs']}   (same development {c['same_dev']}, "
          f"same event / other development {c['same_event_other_dev']}, "
          f"different events {c['different_event']})")
    print()
    print(f"  {'metric':<26} {'value':>6}  {'hits/total':>11}  {'goal':>6}")
    print(f"  {'-' * 26} {'-' * 6}  {'-' * 11}  {'-' * 6}")

    def row(name, key, num, den, goal=None):
        value = metrics[key]
        if goal is None:
            mark, g = "", ""
        else:
            g = f">={100 * goal:.0f}%"
            mark = "" if value is None else ("  ok" if value >= goal else "  BELOW GOAL")
        print(f"  {name:<26} {pct(value)}  {f'{num}/{den}':>11}  {g:>6}{mark}")

    row("copy precision", "copy_precision", c["copies_right"], c["copies"], GOALS["copy_precision"][0])
    row("grouping precision", "grouping_precision", c["grouped_same_event"], c["grouped"],
        GOALS["grouping_precision"][0])
    row("same-event recall", "same_event_recall", c["same_event_grouped"], c["same_event"],
        GOALS["same_event_recall"][0])
    row("same-development recall", "same_development_recall", c["same_dev_grouped"], c["same_dev"])
    row("copy recall", "copy_recall", c["redundant_suppressed"], c["redundant"])
    row("copy precision, pairwise", "copy_precision_pairwise", c["copy_same_dev"], c["copy"])
    row("copy recall, pairwise", "copy_recall_pairwise", c["same_dev_copy"], c["same_dev"])
    print("""
  copy precision: of the items suppressed as copies, % with an earlier item of the same
    story and the same development (counted per item: the output names a copy's story,
    not the article it repeats)
  grouping precision: of the pairs the tool puts in one story, % of the same event
  same-event / same-development recall: of those pairs, % the tool puts in one story
  copy recall: of the items with an earlier same-development item within the window,
    % suppressed as a copy in that item's story
  pairwise: a pair (a, b) "suppressed as copy" when grouped and b's role is copy; its
    precision also counts b against every other development of the story, so even a
    perfect tool scores low where a story has several developments (diagnostic only)""")
    print()
    print(f"  alerts without grouping (every match alerts): {alerts['alerts_without_grouping']}")
    print(f"  alerts with grouping (first + update):        {alerts['alerts_with_grouping']}"
          f"   = {alerts['stories_started']} stories started + {alerts['updates_threaded']} updates "
          f"threaded" + (f" + {alerts['other_roles']} other roles" if alerts["other_roles"] else ""))
    print(f"  copies suppressed:                            {alerts['copies_suppressed']}")
    print(f"  labelled items: {alerts['gold_developments']} developments in "
          f"{alerts['gold_events']} events (perfect grouping, ignoring the time window)")

    if args.no_lists:
        return
    limit = args.max_list

    def show(title, pairs):
        print(f"\n{title} ({len(pairs)}):")
        for a, b in pairs[:limit]:
            for tag, x in (("a", a), ("b", b)):
                print(f"  {tag} {x['time']:%Y-%m-%d %H:%M} [{x['lang']}] {x['event']} / {x['dev'][1]}"
                      f"   role {x['role']}")
                print(f"        {x['title'][:110]}")
            print()
        if len(pairs) > limit:
            print(f"  ... and {len(pairs) - limit} more (--max-list)")

    print(f"\nSUPPRESSED AS COPY, NO EARLIER ITEM OF THAT DEVELOPMENT IN ITS STORY "
          f"({len(lists['wrong_copy_items'])}):")
    for x in lists["wrong_copy_items"][:limit]:
        print(f"  {x['time']:%Y-%m-%d %H:%M} [{x['lang']}] {x['event']} / {x['dev'][1]}   "
              f"story {x['story_id']}")
        print(f"        {x['title'][:110]}")
    if len(lists["wrong_copy_items"]) > limit:
        print(f"  ... and {len(lists['wrong_copy_items']) - limit} more (--max-list)")
    show("GROUPED BUT DIFFERENT EVENTS", lists["wrong_groupings"])
    show("SAME DEVELOPMENT BUT NOT GROUPED", lists["missed_same_development"])
    if args.all_lists:
        show("SAME EVENT, OTHER DEVELOPMENT, NOT GROUPED", lists["missed_same_event"])


def check(args, labels):
    feeds = args.feeds or os.environ.get("NEWSWATCH_EVAL_FEEDS")
    if not feeds:
        sys.exit("score_stories.py --check: set NEWSWATCH_EVAL_FEEDS or pass --feeds DIR")
    links = set()
    paths = sorted(glob.glob(os.path.join(feeds, "*.xml")))
    if not paths:
        sys.exit(f"score_stories.py --check: no *.xml files in {feeds}")
    for path in paths:
        for item in ET.parse(path).getroot().iter("item"):
            links.add((item.findtext("link") or "").strip())
    stale = sorted(l for l in labels.rows if l not in links)
    rows = labels.rows.values()
    print(f"feed items: {len(links)}, label rows: {len(labels.rows)} "
          f"({sum(r['lang'] == 'en' for r in rows)} en, {sum(r['lang'] == 'ru' for r in rows)} ru), "
          f"events: {len({r['event'] for r in rows})}, "
          f"developments: {len({(r['event'], r['development']) for r in rows})}")
    print(f"label rows not found in the feeds: {len(stale)}")
    for link in stale:
        print(f"  {link}")
    print(f"other problems in the labels file: {len(labels.problems)}")
    for lineno, text in labels.problems:
        print(f"  {labels.path}:{lineno}: {text}")
    return 1 if stale or labels.problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="labels TSV (default: %(default)s)")
    ap.add_argument("--watch", default=None, help="score this watch's matches (default: the first watch seen)")
    ap.add_argument("--window", type=float, default=48.0, metavar="HOURS",
                    help="pairs published at most this far apart are scored (default: 48)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--no-lists", action="store_true", help="print only the summary")
    ap.add_argument("--all-lists", action="store_true",
                    help="also list same-event pairs of different developments that were not grouped")
    ap.add_argument("--max-list", type=int, default=25, metavar="N", help="pairs shown per list (default: 25)")
    ap.add_argument("--check", action="store_true",
                    help="do not score: check that every label row's link is in the feeds "
                         "($NEWSWATCH_EVAL_FEEDS or --feeds) and the labels are consistent")
    ap.add_argument("--feeds", default=None, help="the corpus's RSS directory, for --check")
    args = ap.parse_args()

    if not args.labels.is_file():
        sys.exit(f"score_stories.py: labels file not found: {args.labels}")
    labels = StoryLabels(args.labels)
    if args.check:
        sys.exit(check(args, labels))

    articles, watch_name, n_objs, notes = read_articles(sys.stdin, args.watch)
    if not n_objs:
        sys.exit("score_stories.py: no articles on stdin")
    items, c, metrics, alerts, lists = score(articles, labels, args.window)

    if args.json:
        out = {
            "labels": str(args.labels), "watch": watch_name, "window_hours": args.window,
            "articles": n_objs, "items": items, "notes": notes,
            "pairs": {"total": c["pairs"], "same_development": c["same_dev"],
                      "same_event_other_development": c["same_event_other_dev"],
                      "different_events": c["different_event"],
                      "suppressed_as_copy": c["copy"], "suppressed_as_copy_same_development": c["copy_same_dev"],
                      "grouped": c["grouped"], "grouped_same_event": c["grouped_same_event"],
                      "same_event": c["same_event"], "same_event_grouped": c["same_event_grouped"],
                      "same_development_grouped": c["same_dev_grouped"],
                      "same_development_suppressed_as_copy": c["same_dev_copy"]},
            "copy_items": {"suppressed": c["copies"], "suppressed_right": c["copies_right"],
                           "redundant": c["redundant"], "redundant_suppressed": c["redundant_suppressed"]},
            "metrics": metrics,
            "goals": {k: {"goal": g, "met": (None if metrics[k] is None else metrics[k] >= g)}
                      for k, (g, _) in GOALS.items()},
            "alerts": alerts,
        }
        if not args.no_lists:
            out["lists"] = {k: [pair_json(a, b) for a, b in v] for k, v in lists.items()
                            if k != "wrong_copy_items"}
            out["lists"]["wrong_copy_items"] = [pair_json(x, x)["a"] for x in lists["wrong_copy_items"]]
        json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return
    print_report(args, watch_name, n_objs, notes, items, c, metrics, alerts, lists)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
