//! Forgiving pre-processing of feed bytes, so that ill-formed real-world feeds yield what
//! the most forgiving feed readers recover.
//!
//! Real feeds arrive with wrong or missing charsets, a BOM or whitespace before the XML
//! declaration, HTML entities XML does not know (`&nbsp;`), bare ampersands (`AT&T`,
//! `?a=1&b=2`), control characters, and truncated bodies. [`sanitize`] fixes what can be
//! fixed without guessing at structure; [`split_entries`] cuts a document into one small
//! document per entry, so that one broken entry (or a truncated tail) loses only itself.

use std::borrow::Cow;

/// Decodes `bytes` to UTF-8 and repairs what XML parsers reject.
///
/// Charset: a BOM wins; then valid UTF-8 is taken as UTF-8 whatever the labels say
/// (feeds labelled ISO-8859-1 are very often UTF-8); then the HTTP charset or the XML
/// declaration's encoding; bytes that are invalid in a UTF-8 or Latin-1-labelled feed
/// are read as windows-1252, one byte at a time, which also rescues feeds mixing both.
/// The XML declaration is removed (the text is UTF-8 now), as is anything before the
/// first `<`. Costs about two passes over the body.
pub fn sanitize(bytes: &[u8], http_charset: Option<&str>) -> String {
    let text = decode(bytes, http_charset);
    // Anything before the markup (whitespace, a BOM, junk) goes; JSON Feed passes through.
    let text = text.trim_start_matches(|c: char| c != '<' && c != '{');
    if text.starts_with('{') {
        return text.to_owned();
    }
    let text = from_root(text);
    let mut doc = fix_markup(text);
    close_cut_end_tag(&mut doc);
    upgrade_root(&mut doc);
    doc
}

/// The names of the root elements of the feed formats we read.
const ROOTS: [&str; 4] = ["<rss", "<feed", "<rdf:RDF", "<RDF"];

/// Starts the document at its feed root, dropping what comes before: the declaration
/// (the text is UTF-8 now), comments, a doctype, and junk a server printed first (a PHP
/// warning in HTML, a stray `<br />`). Without a known root, only the declaration goes.
fn from_root(text: &str) -> &str {
    let root = ROOTS
        .iter()
        .filter_map(|tag| {
            text.match_indices(tag)
                .find(|(at, _)| {
                    text[at + tag.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c == '>' || c == '/' || c.is_whitespace())
                })
                .map(|(at, _)| at)
        })
        .min();
    match root {
        Some(at) => &text[at..],
        None => strip_declaration(text),
    }
}

/// Rewrites roots feed-rs does not know into ones it does, keeping every entry: an
/// `<rss>` without a version (or with 0.90, 0.93, 0.94, 2.0.1) is read as RSS 2.0; Atom 0.3
/// (`http://purl.org/atom/ns#`) as Atom 1.0, its `issued` and `modified` as `published`
/// and `updated`; RSS 0.90 as RSS 1.0, and an RDF item's `rdf:about` becomes a link after
/// its own (feed-rs drops RDF items without `<link>`). Costs one pass over the document
/// when a root needs it, none otherwise.
fn upgrade_root(doc: &mut String) {
    let Some(end) = tag_end(doc) else { return };
    let start_tag = &doc[..=end];
    if start_tag.starts_with("<rss") {
        let version = attribute(start_tag, "version");
        // RSS has no namespace; a default one (`http://backend.userland.com/rss2`) would
        // hide every element from the parser.
        if let Some(ns) = attribute(start_tag, "xmlns") {
            let declared = format!("xmlns=\"{ns}\"");
            *doc = doc.replacen(&declared, "", 1);
            return upgrade_root(doc);
        }
        // Items straight under `<rss>` get the `<channel>` they lack.
        if !doc.contains("<channel") && !start_tag.ends_with("/>") {
            let body = doc[end + 1..].replace("</rss>", "");
            *doc = format!("{}<channel>{body}</channel></rss>", &doc[..=end]);
            return upgrade_root(doc);
        }
        if !matches!(version, Some("2.0" | "0.91" | "0.92")) {
            let rest = doc[end..].to_owned();
            let mut tag = start_tag[..start_tag.len() - 1]
                .trim_end_matches('/')
                .to_owned();
            if let Some(v) = version {
                tag = tag.replacen(&format!("version=\"{v}\""), "", 1);
                tag = tag.replacen(&format!("version='{v}'"), "", 1);
            }
            let self_closing = start_tag.ends_with("/>");
            *doc = format!(
                "{} version=\"2.0\"{}{}",
                tag.trim_end(),
                if self_closing { "/" } else { "" },
                rest
            );
        }
    } else if start_tag.starts_with("<rdf:RDF") || start_tag.starts_with("<RDF") {
        *doc = link_rdf_items(&doc.replace(
            "http://my.netscape.com/rdf/simple/0.9/",
            "http://purl.org/rss/1.0/",
        ));
    } else if start_tag.starts_with("<feed") && start_tag.contains("purl.org/atom/ns#") {
        *doc = doc
            .replace("http://purl.org/atom/ns#", "http://www.w3.org/2005/Atom")
            .replace("<issued>", "<published>")
            .replace("</issued>", "</published>")
            .replace("<modified>", "<updated>")
            .replace("</modified>", "</updated>");
    }
}

/// Appends `<link>` with its `rdf:about` to every RDF item, after the item's own links.
fn link_rdf_items(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len() + 256);
    let mut rest = doc;
    while let Some(at) = rest.find("<item") {
        let after = &rest[at + "<item".len()..];
        let is_item = after.starts_with(|c: char| c == '>' || c == '/' || c.is_whitespace());
        let end = tag_end(&rest[at..]).map(|e| at + e);
        let (Some(end), true) = (end, is_item) else {
            out.push_str(&rest[..at + "<item".len()]);
            rest = after;
            continue;
        };
        let about = attribute(&rest[at..=end], "rdf:about").map(str::to_owned);
        out.push_str(&rest[..=end]);
        rest = &rest[end + 1..];
        if let (Some(about), Some(close)) = (about, rest.find("</item>")) {
            out.push_str(&rest[..close]);
            out.push_str("<link>");
            out.push_str(&about);
            out.push_str("</link>");
            rest = &rest[close..];
        }
    }
    out.push_str(rest);
    out
}

/// Returns the value of attribute `name` in a start tag.
fn attribute<'a>(start_tag: &'a str, name: &str) -> Option<&'a str> {
    start_tag.match_indices(name).find_map(|(at, _)| {
        if !start_tag[..at].ends_with(char::is_whitespace) {
            return None;
        }
        let rest = start_tag[at + name.len()..]
            .trim_start()
            .strip_prefix('=')?;
        let rest = rest.trim_start();
        let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        let value = &rest[1..];
        value.find(quote).map(|end| &value[..end])
    })
}

/// Completes a last end tag cut before its `>` (`</feed`), the most common truncation
/// of otherwise whole documents.
fn close_cut_end_tag(doc: &mut String) {
    let trimmed = doc.trim_end().len();
    doc.truncate(trimmed);
    if let Some(lt) = doc.rfind('<') {
        let tail = &doc[lt..];
        if tail.starts_with("</")
            && !tail.contains('>')
            && tail[2..]
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, ':' | '-' | '_' | '.'))
        {
            doc.push('>');
        }
    }
}

/// Closes an entry cut short: an open CDATA section is ended, a tag cut in the middle is
/// dropped, and every element left open is closed, so that what arrived of the entry
/// (its title, the start of its text) is kept.
pub fn close_truncated(entry: &str) -> String {
    let mut out = entry.to_owned();
    let open_cdata = out
        .rfind("<![CDATA[")
        .is_some_and(|at| !out[at..].contains("]]>"));
    if open_cdata {
        out.push_str("]]>");
    } else if let Some(lt) = out.rfind('<')
        && !out[lt..].contains('>')
    {
        out.truncate(lt);
    }
    let closers = closers_for(&out);
    out.push_str(&closers);
    out
}

fn decode(bytes: &[u8], http_charset: Option<&str>) -> String {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return text.into_owned();
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_owned();
    }
    let label = http_charset
        .map(str::to_owned)
        .or_else(|| declared_encoding(bytes));
    let encoding = label
        .as_deref()
        .and_then(|l| encoding_rs::Encoding::for_label(l.trim().as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    if encoding == encoding_rs::UTF_8 || encoding == encoding_rs::WINDOWS_1252 {
        return utf8_with_1252_fallback(bytes);
    }
    let (text, _, _) = encoding.decode(bytes);
    text.into_owned()
}

fn utf8_with_1252_fallback(mut bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 8);
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                // `valid` is valid UTF-8 by construction.
                out.push_str(&String::from_utf8_lossy(valid));
                let bad = e.error_len().unwrap_or(rest.len()).min(rest.len());
                let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&rest[..bad]);
                out.push_str(&text);
                bytes = &rest[bad..];
            }
        }
    }
}

fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(512)];
    let head = String::from_utf8_lossy(head);
    let decl_end = head.find("?>")?;
    let decl = &head[..decl_end];
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let rest = &rest[1..];
    let end = rest.find(quote)?;
    Some(rest[..end].to_owned())
}

fn strip_declaration(text: &str) -> &str {
    if text.starts_with("<?xml")
        && let Some(end) = text.find("?>")
    {
        return text[end + 2..].trim_start();
    }
    text
}

/// Replaces entities XML does not define, escapes bare ampersands and drops control
/// characters, leaving CDATA sections and comments untouched.
fn fix_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    loop {
        let next_cdata = rest.find("<![CDATA[");
        let next_comment = rest.find("<!--");
        let (start, end_marker) = match (next_cdata, next_comment) {
            (Some(c), Some(m)) if m < c => (m, "-->"),
            (Some(c), _) => (c, "]]>"),
            (None, Some(m)) => (m, "-->"),
            (None, None) => {
                fix_text(rest, &mut out);
                return out;
            }
        };
        fix_text(&rest[..start], &mut out);
        let section = &rest[start..];
        match section.find(end_marker) {
            Some(end) => {
                let end = end + end_marker.len();
                push_without_controls(&section[..end], &mut out);
                rest = &section[end..];
            }
            None => {
                // Truncated inside a section: keep it, the entry splitter drops it.
                push_without_controls(section, &mut out);
                return out;
            }
        }
    }
}

/// Copies `s` (a CDATA section or comment) without the characters XML forbids.
fn push_without_controls(s: &str, out: &mut String) {
    out.extend(s.chars().filter(|&c| is_xml_char(c)));
}

/// Copies markup and text without the characters XML forbids, escaping a `<` that
/// cannot start markup (`a < b`, `<3`, `<=`), which feed writers leave in titles.
fn push_markup(s: &str, out: &mut String) {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '<'
            && !chars
                .peek()
                .is_some_and(|n| n.is_alphabetic() || matches!(n, '/' | '!' | '?' | '_' | ':'))
        {
            out.push_str("&lt;");
        } else if is_xml_char(c) {
            out.push(c);
        }
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn fix_text(s: &str, out: &mut String) {
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        push_markup(&rest[..amp], out);
        let after = &rest[amp + 1..];
        let entity_len = after
            .char_indices()
            .take(32)
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '#'))
            .filter(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        match entity_len {
            Some(len) if len > 0 => {
                let name = &after[..len];
                out.push_str(&replacement(name));
                rest = &after[len + 1..];
            }
            _ => {
                out.push_str("&amp;");
                rest = after;
            }
        }
    }
    push_markup(rest, out);
}

/// Returns what `&name;` becomes: itself when XML knows it, numeric references for HTML
/// entities, and an escaped ampersand otherwise.
fn replacement(name: &str) -> Cow<'static, str> {
    if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
        return Cow::Owned(format!("&{name};"));
    }
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => num.parse::<u32>().ok(),
        };
        return match code.and_then(char::from_u32) {
            Some(c) if is_xml_char(c) => Cow::Owned(format!("&#{};", c as u32)),
            _ => Cow::Borrowed(""),
        };
    }
    let entity = format!("&{name};");
    let decoded = html_escape::decode_html_entities(&entity);
    if decoded != entity {
        return Cow::Owned(
            decoded
                .chars()
                .map(|c| format!("&#{};", c as u32))
                .collect(),
        );
    }
    Cow::Owned(format!("&amp;{name};"))
}

/// A document cut into its entries.
pub struct Entries<'a> {
    /// Everything before the first entry (root, channel, feed metadata).
    pub header: &'a str,
    /// Each entry element, from its start tag through its end tag (or, when the end tag
    /// is missing, up to the next entry or the end of the document).
    pub entries: Vec<&'a str>,
    /// End tags closing the elements left open at the end of the header.
    pub closers: String,
}

/// Splits a feed into header and `<item>`/`<entry>` elements.
pub fn split_entries(doc: &str) -> Entries<'_> {
    let starts: Vec<usize> = entry_starts(doc);
    let Some(&first) = starts.first() else {
        return Entries {
            header: doc,
            entries: Vec::new(),
            closers: closers_for(doc),
        };
    };
    let header = &doc[..first];
    let mut entries = Vec::with_capacity(starts.len());
    for (i, &start) in starts.iter().enumerate() {
        let limit = starts.get(i + 1).copied().unwrap_or(doc.len());
        let chunk = &doc[start..limit];
        let end = ["</item>", "</entry>"]
            .iter()
            .filter_map(|t| chunk.find(t).map(|p| p + t.len()))
            .min()
            .unwrap_or(chunk.len());
        entries.push(&chunk[..end]);
    }
    Entries {
        header,
        entries,
        closers: closers_for(header),
    }
}

fn entry_starts(doc: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    for tag in ["<item", "<entry"] {
        let mut from = 0;
        while let Some(p) = doc[from..].find(tag) {
            let at = from + p;
            let next = doc[at + tag.len()..].chars().next();
            if matches!(next, Some(c) if c == '>' || c == '/' || c.is_whitespace()) {
                starts.push(at);
            }
            from = at + tag.len();
        }
    }
    starts.sort_unstable();
    starts
}

/// Returns end tags for the elements still open at the end of `prefix`.
fn closers_for(prefix: &str) -> String {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = prefix;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt..];
        if let Some(r) = rest.strip_prefix("<!--") {
            rest = r.find("-->").map_or("", |e| &r[e + 3..]);
            continue;
        }
        if let Some(r) = rest.strip_prefix("<![CDATA[") {
            rest = r.find("]]>").map_or("", |e| &r[e + 3..]);
            continue;
        }
        if rest.starts_with("<?") || rest.starts_with("<!") {
            rest = rest.find('>').map_or("", |e| &rest[e + 1..]);
            continue;
        }
        let Some(end) = tag_end(rest) else { break };
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            if let Some(pos) = stack.iter().rposition(|n| *n == name) {
                stack.truncate(pos);
            }
        } else if !tag.ends_with('/') {
            let name = tag
                .split(|c: char| c.is_whitespace())
                .next()
                .unwrap_or_default();
            if !name.is_empty() {
                stack.push(name);
            }
        }
    }
    stack.iter().rev().map(|n| format!("</{n}>")).collect()
}

/// Finds the `>` ending the tag that starts `s`, skipping quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_latin1_mislabelled_and_mixed_bodies() {
        let latin1 =
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><t>Gr\xfc\xdfe</t></channel></rss>";
        assert_eq!(
            sanitize(latin1, None),
            "<rss version=\"2.0\"><channel><t>Grüße</t></channel></rss>"
        );
        let utf8_labelled_latin1 = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><t>Grüße</t></channel></rss>";
        assert_eq!(
            sanitize(utf8_labelled_latin1.as_bytes(), Some("iso-8859-1")),
            "<rss version=\"2.0\"><channel><t>Grüße</t></channel></rss>"
        );
        let mixed =
            b"<rss version=\"2.0\"><channel><t>M\xc3\xbcnchen und K\xf6ln</t></channel></rss>";
        assert_eq!(
            sanitize(mixed, Some("utf-8")),
            "<rss version=\"2.0\"><channel><t>München und Köln</t></channel></rss>"
        );
    }

    #[test]
    fn strips_bom_leading_junk_and_declaration() {
        let body =
            "\u{feff}  \n\n<?xml version=\"1.0\"?>\n<!-- made by hand -->\n<rss version=\"2.0\"/>";
        assert_eq!(sanitize(body.as_bytes(), None), "<rss version=\"2.0\"/>");
    }

    #[test]
    fn repairs_entities_and_ampersands_outside_cdata() {
        let body = "<t>AT&T &nbsp;caf&eacute; &amp; &#8364; &bogus; a=1&b=2</t><d><![CDATA[x &nbsp; y]]></d>";
        assert_eq!(
            sanitize(body.as_bytes(), None),
            "<t>AT&amp;T &#160;caf&#233; &amp; &#8364; &amp;bogus; a=1&amp;b=2</t><d><![CDATA[x &nbsp; y]]></d>"
        );
    }

    #[test]
    fn a_less_than_sign_that_starts_no_tag_is_text() {
        assert_eq!(
            sanitize(
                b"<rss version=\"2.0\"><channel><t><![CDATA[a < b]]></t></channel></rss>",
                None
            ),
            "<rss version=\"2.0\"><channel><t><![CDATA[a < b]]></t></channel></rss>"
        );
        assert_eq!(
            sanitize(
                b"<rss version=\"2.0\"><channel><t>a < b, <3 and <= 5</t></channel></rss>",
                None
            ),
            "<rss version=\"2.0\"><channel><t>a &lt; b, &lt;3 and &lt;= 5</t></channel></rss>"
        );
    }

    #[test]
    fn upgrades_roots_feed_rs_does_not_read() {
        assert_eq!(
            sanitize(
                b"<rss xmlns=\"http://backend.userland.com/rss2\"><item/></rss",
                None
            ),
            "<rss version=\"2.0\"><channel><item/></channel></rss>"
        );
        assert_eq!(
            sanitize(
                b"<b>Warning</b><rss version=\"0.94\"><channel/></rss>",
                None
            ),
            "<rss version=\"2.0\"><channel/></rss>"
        );
        assert_eq!(
            sanitize(
                b"<feed xmlns=\"http://purl.org/atom/ns#\"><entry><issued>x</issued></entry></feed>",
                None
            ),
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><published>x</published></entry></feed>"
        );
        assert_eq!(
            sanitize(
                b"<rdf:RDF><item rdf:about=\"u\"><title>t</title></item></rdf:RDF>",
                None
            ),
            "<rdf:RDF><item rdf:about=\"u\"><title>t</title><link>u</link></item></rdf:RDF>"
        );
    }

    #[test]
    fn closes_what_a_cut_leaves_open() {
        assert_eq!(
            close_truncated("<item><title>t</title><description><![CDATA[half"),
            "<item><title>t</title><description><![CDATA[half]]></description></item>"
        );
        assert_eq!(
            close_truncated("<item><title>t</title><link>https://exa"),
            "<item><title>t</title><link>https://exa</link></item>"
        );
        assert_eq!(
            close_truncated("<item><title>t</ti"),
            "<item><title>t</title></item>"
        );
    }

    #[test]
    fn splits_entries_and_closes_the_header() {
        let doc = "<rss version=\"2.0\"><channel><title>a > b</title><item><title>1</title></item><item><title>2</ti";
        let e = split_entries(doc);
        assert_eq!(
            e.entries,
            ["<item><title>1</title></item>", "<item><title>2</ti"]
        );
        assert_eq!(e.closers, "</channel></rss>");
    }
}
