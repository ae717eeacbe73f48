#!/usr/bin/env python3
"""Export the OpenCorpora Russian dictionary (as shipped in pymorphy3-dicts-ru)
as a sorted, deduplicated `form<TAB>lemma` TSV.

Usage:
    python export.py [OUTPUT.tsv]      # default: stdout

Both sides are folded the way newswatch folds text: lowercase, `ё` -> `е`.
Forms containing anything but Russian Cyrillic letters (hyphens, digits,
Latin, other Cyrillic) are skipped: the tokenizer splits on hyphens and such
forms could never be looked up. Lemmas are the pymorphy3 normal forms
(the first form of the dictionary paradigm; participles and gerunds are
linked to their verb's infinitive, comparatives to the positive adjective,
exactly as pymorphy3 reports them).

Data: OpenCorpora dictionary, CC BY-SA 3.0 (see NOTICE in the repo root).
"""

import re
import sys

import pymorphy3
import pymorphy3_dicts_ru

RUSSIAN_WORD = re.compile(r"^[а-я]+$")


def fold(s: str) -> str:
    return s.lower().replace("ё", "е")


def main() -> int:
    out_path = sys.argv[1] if len(sys.argv) > 1 else None
    morph = pymorphy3.MorphAnalyzer(lang="ru")
    d = morph.dictionary

    pairs = set()
    skipped = 0
    for word, _tag, normal_form, _para_id, _idx in d.iter_known_words():
        form = fold(word)
        if not RUSSIAN_WORD.match(form):
            skipped += 1
            continue
        pairs.add((form, fold(normal_form)))

    # Sort by UTF-8 bytes, which is what fst needs (for these strings this is
    # also code-point order, but be explicit).
    rows = sorted(pairs, key=lambda p: (p[0].encode("utf-8"), p[1].encode("utf-8")))

    out = open(out_path, "w", encoding="utf-8", newline="\n") if out_path else sys.stdout
    try:
        for form, lemma in rows:
            out.write(f"{form}\t{lemma}\n")
    finally:
        if out_path:
            out.close()

    forms = len({f for f, _ in rows})
    lemmas = len({l for _, l in rows})
    print(
        f"pymorphy3 {pymorphy3.__version__}, pymorphy3-dicts-ru "
        f"{pymorphy3_dicts_ru.__version__}: {len(rows)} pairs, {forms} forms, "
        f"{lemmas} lemmas, {skipped} dictionary entries skipped (non-Cyrillic)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
