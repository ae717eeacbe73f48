//! Builds the embedded Russian form -> lemma table used by newswatch
//! (`src/rules/lemma.rs`).
//!
//! Usage: `ru-lemmas INPUT.tsv OUT_DIR`
//!
//! INPUT.tsv is `form<TAB>lemma` per line, as written by `export.py`
//! (already folded: lowercase, `ё` -> `е`). Writes `OUT_DIR/ru_lemmas.fst` and
//! `OUT_DIR/ru_lemmas.overflow`. Keys are the forms with one byte per letter
//! (а..я -> 0xE0..0xFF, as in Windows-1251). The value encoding is documented in
//! README.md and must match `src/rules/lemma.rs`.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Bits per inline lemma id.
const ID_BITS: u32 = 20;
const ID_MASK: u64 = (1 << ID_BITS) - 1;
/// Number of ids stored inline in the u64 value.
const INLINE_MAX: usize = 3;
const COUNT_SHIFT: u32 = 60;
const OWN_BIT: u64 = 1 << 62;
const OVERFLOW_BIT: u64 = 1 << 63;
const OVERFLOW_COUNT_SHIFT: u32 = 32;
/// Longest key the loader accepts (it returns None for longer words).
const MAX_KEY: usize = 64;

/// The fst key of a folded form: one byte per letter, а..я -> 0xE0..0xFF
/// (the Windows-1251 codes). Half the length of UTF-8, same order.
fn key(form: &str) -> Vec<u8> {
    form.chars()
        .map(|c| (c as u32 - 'а' as u32 + 0xE0) as u8)
        .collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: {} INPUT.tsv OUT_DIR", args[0]);
        return ExitCode::from(2);
    }
    match run(&args[1], PathBuf::from(&args[2])) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(input: &str, out_dir: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    // Read and validate all pairs.
    let reader = BufReader::new(File::open(input)?);
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        let (form, lemma) = line
            .split_once('\t')
            .ok_or_else(|| format!("line {}: no tab", n + 1))?;
        if form.is_empty() || lemma.is_empty() || lemma.contains('\t') {
            return Err(format!("line {}: malformed {line:?}", n + 1).into());
        }
        if form.chars().any(|c| !('а'..='я').contains(&c)) {
            return Err(format!("line {}: form {form:?} is not folded Russian", n + 1).into());
        }
        if form.chars().count() > MAX_KEY {
            return Err(format!("line {}: form {form:?} is longer than {MAX_KEY}", n + 1).into());
        }
        pairs.push((form.to_owned(), lemma.to_owned()));
    }
    // UTF-8 byte order (String's Ord) of а..я forms is also the order of
    // their one-byte keys, which is what fst needs.
    pairs.sort_unstable();
    pairs.dedup();

    // Dense lemma ids in sorted lemma-string order: deterministic.
    let lemmas: Vec<&str> = pairs
        .iter()
        .map(|(_, l)| l.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if lemmas.len() as u64 > ID_MASK + 1 {
        return Err(format!("{} lemmas do not fit in {ID_BITS}-bit ids", lemmas.len()).into());
    }
    let id_of = |l: &str| lemmas.binary_search(&l).expect("lemma present") as u32;

    std::fs::create_dir_all(&out_dir)?;
    let fst_path = out_dir.join("ru_lemmas.fst");
    let ovf_path = out_dir.join("ru_lemmas.overflow");
    let mut builder = fst::MapBuilder::new(BufWriter::new(File::create(&fst_path)?))?;
    let mut overflow: Vec<u32> = Vec::new();

    let mut forms = 0usize;
    let mut overflowed = 0usize;
    let mut max_ids = 0usize;
    let mut i = 0;
    while i < pairs.len() {
        let form = pairs[i].0.as_str();
        let mut j = i;
        let mut own: Option<u32> = None;
        let mut others: Vec<u32> = Vec::new();
        while j < pairs.len() && pairs[j].0 == form {
            let lemma = pairs[j].1.as_str();
            let id = id_of(lemma);
            if lemma == form {
                own = Some(id);
            } else {
                others.push(id);
            }
            j += 1;
        }
        others.sort_unstable();
        others.dedup();
        // Own id first (flagged), then the others ascending.
        let ids: Vec<u32> = own.into_iter().chain(others).collect();
        max_ids = max_ids.max(ids.len());
        let own_bit = if own.is_some() { OWN_BIT } else { 0 };
        let value = if ids.len() <= INLINE_MAX {
            let mut v = own_bit | ((ids.len() as u64) << COUNT_SHIFT);
            for (k, &id) in ids.iter().enumerate() {
                v |= (id as u64) << (ID_BITS * k as u32);
            }
            v
        } else {
            overflowed += 1;
            let start = overflow.len() as u64;
            overflow.extend_from_slice(&ids);
            if ids.len() > 255 || start > u32::MAX as u64 {
                return Err(format!("overflow entry for {form:?} too large").into());
            }
            OVERFLOW_BIT | own_bit | ((ids.len() as u64) << OVERFLOW_COUNT_SHIFT) | start
        };
        builder.insert(key(form), value)?;
        forms += 1;
        i = j;
    }
    builder.finish()?;

    let mut w = BufWriter::new(File::create(&ovf_path)?);
    for id in &overflow {
        w.write_all(&id.to_le_bytes())?;
    }
    w.flush()?;

    let fst_size = std::fs::metadata(&fst_path)?.len();
    eprintln!(
        "{} pairs, {forms} forms, {} lemmas, max {max_ids} lemmas per form, \
         {overflowed} forms in overflow ({} ids); {} = {fst_size} bytes, {} = {} bytes",
        pairs.len(),
        lemmas.len(),
        overflow.len(),
        fst_path.display(),
        ovf_path.display(),
        overflow.len() * 4,
    );
    Ok(())
}
