//! Feed bytes to UTF-8. The encoding comes from the byte-order mark, else the XML declaration,
//! else the HTTP charset, else UTF-8; invalid bytes are repaired (U+FFFD), never fatal.
//!
//! The result is UTF-8 without XML declarations: the XML parser would otherwise decode the text
//! a second time from the declared encoding (and it cannot switch encodings mid-document).

use encoding_rs::{Encoding, UTF_8};

/// Decodes a feed body to UTF-8 text.
pub fn decode(bytes: &[u8], http_charset: Option<&str>) -> String {
    let (encoding, skip) = match Encoding::for_bom(bytes).or_else(|| utf16_without_bom(bytes)) {
        Some((encoding, bom_len)) => (encoding, bom_len),
        None => {
            let declared = xml_declared_encoding(bytes)
                .or_else(|| http_charset.and_then(|c| Encoding::for_label(c.trim().as_bytes())));
            // A label read from ASCII-compatible bytes cannot truly mean UTF-16.
            (declared.map_or(UTF_8, Encoding::output_encoding), 0)
        }
    };
    let (text, _) = encoding.decode_without_bom_handling(&bytes[skip..]);
    strip_declarations(text.into_owned())
}

/// UTF-16 recognised by its first character being `<` (as XML allows without a BOM).
fn utf16_without_bom(bytes: &[u8]) -> Option<(&'static Encoding, usize)> {
    match bytes {
        [0, b'<', 0, _, ..] => Some((encoding_rs::UTF_16BE, 0)),
        [b'<', 0, _, 0, ..] => Some((encoding_rs::UTF_16LE, 0)),
        _ => None,
    }
}

/// The charset parameter of a Content-Type header value.
pub fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']).to_string())
    })
}

/// The `encoding="…"` of an XML declaration at the start of the document.
fn xml_declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(512)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &head[start..];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let declaration = std::str::from_utf8(&head[..end]).ok()?;
    let rest = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let label = rest[1..].split(quote).next()?;
    Encoding::for_label(label.trim().as_bytes())
}

/// Removes every XML declaration (`<?xml version=… encoding=…?>`), wherever it is: the text
/// is UTF-8 now, which is what XML assumes without one.
fn strip_declarations(text: String) -> String {
    let is_declaration = |at: usize| {
        text[at + 5..]
            .chars()
            .next()
            .is_some_and(char::is_whitespace)
    };
    let mut positions = text
        .match_indices("<?xml")
        .map(|(i, _)| i)
        .filter(|&i| is_declaration(i));
    let Some(first) = positions.next() else {
        return text;
    };
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for start in std::iter::once(first).chain(positions) {
        if start < from {
            continue;
        }
        let Some(length) = text[start..].find("?>") else {
            break;
        };
        out.push_str(&text[from..start]);
        from = start + length + 2;
    }
    out.push_str(&text[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TITLE: &str = "Лавров прибыл в Пхеньян";

    fn cp1251(text: &str) -> Vec<u8> {
        encoding_rs::WINDOWS_1251.encode(text).0.into_owned()
    }

    #[test]
    fn the_xml_declaration_names_the_encoding() {
        let mut bytes = b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss><title>".to_vec();
        bytes.extend(cp1251(TITLE));
        bytes.extend(b"</title></rss>");
        let text = decode(&bytes, Some("utf-8"));
        assert!(text.contains(TITLE), "{text}");
        assert!(text.starts_with("<rss>"), "{text}");
    }

    #[test]
    fn the_http_charset_applies_without_a_declaration() {
        let mut bytes = b"<rss><title>".to_vec();
        bytes.extend(cp1251(TITLE));
        bytes.extend(b"</title></rss>");
        assert!(decode(&bytes, Some("windows-1251")).contains(TITLE));
        let koi8 = encoding_rs::KOI8_R.encode(TITLE).0.into_owned();
        assert!(decode(&koi8, Some("koi8-r")).contains(TITLE));
    }

    #[test]
    fn a_byte_order_mark_wins() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in
            format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?><t>{TITLE}</t>").encode_utf16()
        {
            bytes.extend(unit.to_le_bytes());
        }
        let text = decode(&bytes, Some("iso-8859-1"));
        assert_eq!(text, format!("<t>{TITLE}</t>"));
    }

    #[test]
    fn utf16_without_a_bom_is_recognised() {
        let mut bytes = Vec::new();
        for unit in format!("<t>{TITLE}</t>").encode_utf16() {
            bytes.extend(unit.to_be_bytes());
        }
        assert_eq!(decode(&bytes, None), format!("<t>{TITLE}</t>"));
    }

    #[test]
    fn every_declaration_is_removed_and_stylesheets_kept() {
        let text = decode(
            b"<!-- c --><?xml version=\"1.0\" encoding=\"koi8-r\"?><?xml-stylesheet href=\"s\"?><rss><?xml version=\"1.0\"?></rss>",
            None,
        );
        assert_eq!(text, "<!-- c --><?xml-stylesheet href=\"s\"?><rss></rss>");
    }

    #[test]
    fn invalid_utf8_is_repaired() {
        let text = decode(b"<t>ok \xFF\xFE bad</t>", None);
        assert_eq!(text, "<t>ok \u{FFFD}\u{FFFD} bad</t>");
    }

    #[test]
    fn charset_is_read_from_content_type() {
        assert_eq!(
            charset_of("application/rss+xml; charset=\"Windows-1251\"").as_deref(),
            Some("Windows-1251")
        );
        assert_eq!(charset_of("text/xml"), None);
    }
}
