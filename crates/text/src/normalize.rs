//! Turns HTML fragments and entity-laden feed text into plain text.

/// Returns plain text from an HTML fragment or text with entities.
///
/// Tags are removed (block-level tags become spaces so words do not glue together),
/// `script` and `style` contents are dropped, entities are decoded (HTML5 names and
/// numeric forms) and runs of whitespace collapse to one space. Costs one pass over the
/// input and at most two allocations.
pub fn html_to_text(input: &str) -> String {
    let stripped = strip_tags(input);
    collapse_whitespace(&decode_entities(&stripped))
}

/// Decodes HTML entities (HTML5 names, decimal and hex forms) once; borrows when there
/// is none. The one entity decoder of text Lauscher reads (feeds, imports, posts); the
/// crawler's repair of broken XML only rewrites entities for the XML parser.
pub fn decode_entities(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('&') {
        html_escape::decode_html_entities(text)
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Collapses every run of Unicode whitespace into one ASCII space and trims both ends.
pub fn collapse_whitespace(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for word in input.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn strip_tags(input: &str) -> String {
    if !input.contains('<') {
        return input.to_owned();
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // A '<' that does not start a tag ("a < b") stays text.
        let starts_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?');
        if !starts_tag {
            out.push('<');
            rest = after;
            continue;
        }
        let Some(close) = after.find('>') else {
            // Truncated tag at the end: drop it.
            rest = "";
            break;
        };
        let tag = &after[..close];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        rest = &after[close + 1..];
        if (name == "script" || name == "style") && !tag.starts_with('/') {
            let end = format!("</{name}");
            match find_ascii_case_insensitive(rest, &end) {
                Some(i) => {
                    rest = &rest[i..];
                    if let Some(gt) = rest.find('>') {
                        rest = &rest[gt + 1..];
                    }
                }
                None => rest = "",
            }
            continue;
        }
        if is_block(&name) {
            out.push(' ');
        }
    }
    out.push_str(rest);
    out
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "br" | "p"
            | "div"
            | "li"
            | "ul"
            | "ol"
            | "tr"
            | "td"
            | "th"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "blockquote"
            | "section"
            | "article"
            | "hr"
            | "img"
    )
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_and_decodes_entities() {
        assert_eq!(
            html_to_text("<p>Zug&nbsp;f&auml;llt aus &amp; keiner sagt was</p><p>Danke&#33;</p>"),
            "Zug fällt aus & keiner sagt was Danke!"
        );
    }

    #[test]
    fn drops_scripts_and_keeps_lone_angle_brackets() {
        assert_eq!(html_to_text("a < b <script>x()</script>c"), "a < b c");
        assert_eq!(html_to_text("ok <b"), "ok");
    }

    #[test]
    fn double_escaped_entities_decode_once() {
        assert_eq!(html_to_text("&amp;gt;"), "&gt;");
    }
}
