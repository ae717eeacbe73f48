#!/usr/bin/env python3
"""Score `newswatch test-rule --json` output against hand labels.

Usage (from the repository root):

    newswatch test-rule --json --watch "Russia–DPRK military ties" \
        $NEWSWATCH_EVAL_FEEDS/*.xml | python3 eval/score.py

Input (stdin): JSON lines, one object per article:
    {"link": ..., "title": ..., "published": ..., "matches": [{"watch": ..., "terms": [...]}]}
An article counts as a predicted positive when it has at least one match
(restricted to one watch with --watch NAME). Articles may be listed with an
empty "matches" list; they count as predicted negatives.

Labels (--labels, default eval/labels/news-2023.tsv next to this script): TSV
with header `link label borderline lang title`. Links not in the file are
label 0 (the file lists every item that mentions North Korea or Korea, plus
everything positive).

Standard library only.
"""

import argparse
import csv
import html
import json
import sys
import unicodedata
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_LABELS = Path(__file__).resolve().parent / "labels" / "news-2023.tsv"

# Query parameters that only track the click; dropped when comparing links
# loosely (the exact link is always tried first).
TRACKING_PARAMS = {"at_medium", "at_campaign", "traffic_source", "ns_mchannel", "ns_campaign",
                   "ito", "ref", "cmpid", "rss", "fbclid", "gclid", "mc_cid", "mc_eid"}


def canonical_link(link: str) -> str:
    """A forgiving form of a link, for when the tool normalises URLs."""
    link = html.unescape(link.strip())
    try:
        parts = urlsplit(link)
    except ValueError:
        return link
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith("utm_")
    ]
    path = parts.path.rstrip("/") or "/"
    scheme = parts.scheme.lower()
    if scheme == "http":
        scheme = "https"
    return urlunsplit((scheme, parts.netloc.lower(), path, urlencode(query), ""))


def host_path(link: str) -> str:
    try:
        parts = urlsplit(html.unescape(link.strip()))
    except ValueError:
        return link
    return parts.netloc.lower() + (parts.path.rstrip("/") or "/")


def specific_path(link: str) -> bool:
    segments = [seg for seg in urlsplit(link).path.split("/") if seg]
    return len(segments) >= 2 or any(len(seg) > 12 for seg in segments)


def norm_watch(name: str) -> str:
    name = unicodedata.normalize("NFKC", name).casefold()
    for dash in "\u2010\u2011\u2012\u2013\u2014\u2212":
        name = name.replace(dash, "-")
    return " ".join(name.split())


def is_cyrillic(text: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


class Labels:
    def __init__(self, path: Path):
        self.rows = {}  # exact link -> dict
        self.by_canon = {}  # canonical link -> exact link (None if ambiguous)
        self.by_path = {}  # host + path, query dropped -> exact link (None if ambiguous)
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            missing = {"link", "label", "borderline", "lang", "title"} - set(reader.fieldnames or [])
            if missing:
                sys.exit(f"score.py: {path}: missing columns {sorted(missing)}")
            for lineno, row in enumerate(reader, start=2):
                link = row["link"].strip()
                try:
                    rec = {
                        "link": link,
                        "label": int(row["label"]),
                        "borderline": int(row["borderline"]),
                        "lang": row["lang"].strip(),
                        "title": row["title"],
                    }
                except (TypeError, ValueError):
                    sys.exit(f"score.py: {path}:{lineno}: bad label/borderline value")
                if link in self.rows:
                    sys.exit(f"score.py: {path}:{lineno}: duplicate link {link}")
                self.rows[link] = rec
                c = canonical_link(link)
                self.by_canon[c] = None if c in self.by_canon else link
                hp = host_path(link)
                self.by_path[hp] = None if hp in self.by_path else link

    def lookup(self, link: str):
        """Return the labelled link this article link refers to, or None."""
        link = link.strip()
        if link in self.rows:
            return link
        unescaped = html.unescape(link)
        if unescaped in self.rows:
            return unescaped
        found = self.by_canon.get(canonical_link(link))
        if found is None and not urlsplit(unescaped).query:
            # last resort: the tool may drop the whole query string; accept it
            # only when host+path alone identifies a single labelled item and
            # the path looks specific (not "/" or "/watch", as in "?p=123")
            found = self.by_path.get(host_path(link))
            if found is not None and not specific_path(found):
                found = None
        return found


def read_predictions(stream, watch):
    """Yield (link, title, matched, terms) per article; dedupe by link."""
    seen = {}
    bad = 0
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
        matches = obj.get("matches") or []
        if watch is not None:
            matches = [m for m in matches if norm_watch(str(m.get("watch", ""))) == watch]
        terms = []
        for m in matches:
            for t in m.get("terms") or []:
                if t not in terms:
                    terms.append(t)
        link = str(obj["link"]).strip()
        prev = seen.get(link)
        if prev is None:
            seen[link] = {"link": link, "title": obj.get("title") or "", "matched": bool(matches), "terms": terms}
        else:  # same article twice (e.g. in two feeds): positive if either is
            prev["matched"] = prev["matched"] or bool(matches)
            prev["terms"] += [t for t in terms if t not in prev["terms"]]
    if bad:
        print(f"warning: {bad} unusable input line(s) skipped", file=sys.stderr)
    return list(seen.values())


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="labels TSV (default: %(default)s)")
    ap.add_argument("--exclude-borderline", action="store_true",
                    help="drop items labelled borderline=1 from both predictions and gold")
    ap.add_argument("--watch", default=None,
                    help="only count matches of this watch (default: any match counts)")
    ap.add_argument("--no-lists", action="store_true", help="print only the summary")
    args = ap.parse_args()

    if not args.labels.is_file():
        sys.exit(f"score.py: labels file not found: {args.labels}")
    labels = Labels(args.labels)
    watch = norm_watch(args.watch) if args.watch else None
    preds = read_predictions(sys.stdin, watch)
    if not preds:
        sys.exit("score.py: no articles on stdin")

    excluded = set()
    if args.exclude_borderline:
        excluded = {l for l, r in labels.rows.items() if r["borderline"]}

    predicted = {}  # labelled-or-raw link -> prediction record
    seen_labelled = set()
    loose = 0
    for p in preds:
        key = labels.lookup(p["link"])
        if key is not None:
            seen_labelled.add(key)
            if key != p["link"]:
                loose += 1
        else:
            key = p["link"]
        if p["matched"]:
            predicted[key] = p

    gold = {l for l, r in labels.rows.items() if r["label"] == 1 and l not in excluded}
    pos = {l for l in predicted if l not in excluded}

    tp = sorted(pos & gold)
    fp = sorted(pos - gold)
    fn = sorted(gold - pos)
    p, r, f = prf(len(tp), len(fp), len(fn))

    def lang_of(link):
        if link in labels.rows:
            return labels.rows[link]["lang"]
        return "ru" if is_cyrillic(predicted[link]["title"]) else "en"

    print(f"labels: {args.labels}")
    print(f"articles on stdin: {len(preds)}, matched: {sum(1 for x in preds if x['matched'])}"
          + (f", watch filter: {args.watch!r}" if args.watch else ""))
    if loose:
        print(f"note: {loose} article link(s) matched a label only after URL normalisation")
    if any(not x["matched"] for x in preds):
        unseen = [l for l in labels.rows if l not in seen_labelled]
        if unseen:
            print(f"note: {len(unseen)} labelled item(s) not present in the input at all "
                  f"(e.g. {unseen[0]})")
    if args.exclude_borderline:
        print(f"borderline items excluded: {len(excluded)}")
    print()
    print(f"precision {p:.3f}  recall {r:.3f}  F1 {f:.3f}   tp {len(tp)}  fp {len(fp)}  fn {len(fn)}"
          f"   (gold positives {len(gold)})")
    for lang in ("en", "ru"):
        ltp = sum(1 for l in tp if lang_of(l) == lang)
        lfp = sum(1 for l in fp if lang_of(l) == lang)
        lfn = sum(1 for l in fn if labels.rows[l]["lang"] == lang)
        lp, lr, lf = prf(ltp, lfp, lfn)
        print(f"  {lang}: precision {lp:.3f}  recall {lr:.3f}  F1 {lf:.3f}   tp {ltp}  fp {lfp}  fn {lfn}")

    if args.no_lists:
        return

    def bl(link):
        return " [borderline]" if link in labels.rows and labels.rows[link]["borderline"] else ""

    print(f"\nFALSE POSITIVES ({len(fp)}):")
    for l in sorted(fp, key=lambda x: (lang_of(x), predicted[x]["title"])):
        x = predicted[l]
        title = x["title"] or (labels.rows[l]["title"] if l in labels.rows else "")
        unl = "" if l in labels.rows else " [unlabelled]"
        print(f"  [{lang_of(l)}]{bl(l)}{unl} {title}")
        print(f"        terms: {', '.join(map(str, x['terms'])) or '-'}   {l}")

    print(f"\nFALSE NEGATIVES ({len(fn)}):")
    for l in sorted(fn, key=lambda x: (labels.rows[x]["lang"], labels.rows[x]["title"])):
        rec = labels.rows[l]
        print(f"  [{rec['lang']}]{bl(l)} {rec['title']}")
        print(f"        {l}")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
