//! Feed bytes to UTF-8. The encoding comes from the byte-order mark, else the XML declaration,
//! else the HTTP charset, else UTF-8; invalid bytes are repaired (U+FFFD), never fatal.
//!
//! The result is UTF-8 with the XML declaration rewritten to say so, because the XML parser
//! would otherwise decode the text a second time from the declared encoding.

use encoding_rs::{Encoding, UTF_8};

/// Decodes a feed body to UTF-8 text.
pub fn decode(bytes: &[u8], http_charset: Option<&str>) -> String {
    let (encoding, skip) = match Encoding::for_bom(bytes) {
        Some((encoding, bom_len)) => (encoding, bom_len),
        None => {
            let declared = xml_declared_encoding(bytes)
                .or_else(|| http_charset.and_then(|c| Encoding::for_label(c.trim().as_bytes())));
            (declared.unwrap_or(UTF_8), 0)
        }
    };
    // Without a BOM, a declaration readable as ASCII cannot be UTF-16.
    let encoding = if skip == 0 {
        encoding.output_encoding()
    } else {
        encoding
    };
    let (text, _) = encoding.decode_without_bom_handling(&bytes[skip..]);
    rewrite_declaration(text.into_owned())
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

/// Replaces the encoding named in the XML declaration, if any, by UTF-8.
fn rewrite_declaration(text: String) -> String {
    let trimmed = text.trim_start();
    if !trimmed.starts_with("<?xml") {
        return text;
    }
    let offset = text.len() - trimmed.len();
    let Some(end) = trimmed.find("?>") else {
        return text;
    };
    let declaration = &trimmed[..end];
    if !declaration.contains("encoding") {
        return text;
    }
    let version = if declaration.contains("1.1") {
        "1.1"
    } else {
        "1.0"
    };
    format!(
        "<?xml version=\"{version}\" encoding=\"UTF-8\"?>{}",
        &text[offset + end + 2..]
    )
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
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
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
        assert!(text.contains(TITLE), "{text}");
        assert!(text.contains("encoding=\"UTF-8\""));
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
