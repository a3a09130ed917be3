//! Parses RSS, Atom and JSON Feed bodies into mentions, recovering what it can.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use feed_rs::model::{Entry, Feed, FeedType};
use lauscher_model::{Author, Mention};
use lauscher_text::Fingerprint;
use lauscher_text::normalize::{collapse_whitespace, html_to_text};
use url::Url;

use crate::canonical::{canonical_url, mention_id};
use crate::error::FetchError;
use crate::repair::{close_truncated, sanitize, split_entries};

/// Dates further in the future than this are treated as missing.
const MAX_FUTURE_SKEW: ChronoDuration = ChronoDuration::minutes(5);

/// The result of parsing one feed body.
#[derive(Debug)]
pub struct ParsedFeed {
    /// The mentions found, in document order.
    pub mentions: Vec<Mention>,
    /// Set when the document was malformed and only some entries were recovered: the
    /// first error, with its position.
    pub recovered_from: Option<FetchError>,
    /// The feed's `<ttl>` in minutes, when it declares one.
    pub ttl_minutes: Option<u32>,
}

/// What the parser needs to know about the source.
pub struct FeedContext<'a> {
    /// The source id.
    pub source: &'a str,
    /// The URL the body came from (after redirects): base for relative links.
    pub url: &'a Url,
    /// The source's configured language, which beats the feed's own.
    pub language: Option<&'a str>,
    /// When the body was fetched.
    pub fetched_at: DateTime<Utc>,
}

/// Parses `body` into mentions.
///
/// The body is first repaired ([`sanitize`]); if the whole document still does not
/// parse, every entry is parsed on its own behind the document's header, so a broken
/// or truncated entry loses only itself. Only a body without a single recoverable entry
/// is an error, naming the URL, line and column of the first problem. Entry ids are
/// deterministic (feed-rs would invent random ones for entries without id and link).
pub fn parse_feed(
    body: &[u8],
    charset: Option<&str>,
    cx: &FeedContext<'_>,
) -> Result<ParsedFeed, FetchError> {
    let doc = sanitize(body, charset);
    match parse_document(&doc, cx.url) {
        Ok(feed) => {
            let mut parsed = ParsedFeed {
                mentions: Vec::new(),
                recovered_from: None,
                ttl_minutes: feed.ttl,
            };
            collect(&feed, cx, &mut parsed);
            Ok(parsed)
        }
        Err(whole_error) => {
            let first_error = locate_error(&doc, cx.url, &whole_error);
            let split = split_entries(&doc);
            let mut parsed = ParsedFeed {
                mentions: Vec::new(),
                recovered_from: None,
                ttl_minutes: None,
            };
            for entry in &split.entries {
                let one = format!("{}{}{}", split.header, entry, split.closers);
                let feed = parse_document(&one, cx.url).or_else(|_| {
                    let closed = close_truncated(entry);
                    parse_document(
                        &format!("{}{closed}{}", split.header, split.closers),
                        cx.url,
                    )
                });
                if let Ok(feed) = feed {
                    parsed.ttl_minutes = parsed.ttl_minutes.or(feed.ttl);
                    collect(&feed, cx, &mut parsed);
                }
            }
            if parsed.mentions.is_empty() {
                return Err(first_error);
            }
            parsed.recovered_from = Some(first_error);
            Ok(parsed)
        }
    }
}

/// Parses one document with feed-rs, first making JSON Feeds of any version and
/// shape readable ([`loosen_json_feed`]) and, when feed-rs refuses a text construct's
/// `type` (`application/xhtml+xml` from Atom 0.3, `application/octet-stream`, an empty
/// one), reading such constructs as XHTML, HTML or plain text and trying again.
fn parse_document(doc: &str, base: &Url) -> Result<Feed, feed_rs::parser::ParseFeedError> {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError};
    let parse = |doc: &str| {
        feed_rs::parser::Builder::new()
            .base_uri(Some(base.as_str()))
            // Missing ids stay empty; we derive deterministic ones (feed-rs would use UUIDs).
            .id_generator(|_, _, _| String::new())
            .build()
            .parse(doc.as_bytes())
    };
    if doc.starts_with('{') {
        return match loosen_json_feed(doc) {
            Some(loose) => parse(&loose),
            None => parse(doc),
        };
    }
    let mut doc = std::borrow::Cow::Borrowed(doc);
    let mut tries = 0;
    loop {
        match parse(&doc) {
            Err(ParseFeedError::ParseError(ParseErrorKind::UnknownMimeType { mime, .. }))
                if tries < 4 =>
            {
                tries += 1;
                let kind = if mime.contains("xhtml") {
                    "xhtml"
                } else if mime.contains("html") {
                    "html"
                } else {
                    "text"
                };
                let loose = doc
                    .replace(&format!("type=\"{mime}\""), &format!("type=\"{kind}\""))
                    .replace(&format!("type='{mime}'"), &format!("type=\"{kind}\""));
                if loose == *doc {
                    return parse(&loose);
                }
                doc = std::borrow::Cow::Owned(loose);
            }
            Err(ParseFeedError::ParseError(
                ParseErrorKind::MissingContent { position, .. }
                | ParseErrorKind::UnknownMimeType { position, .. },
            )) if tries < 8 => {
                // What feed-rs still refuses (an empty inline content, a type it cannot
                // read) goes, so the rest of the entry is kept.
                tries += 1;
                match without_element_at(&doc, position as usize) {
                    Some(less) => doc = std::borrow::Cow::Owned(less),
                    None => return parse(&doc),
                }
            }
            other => return other,
        }
    }
}

/// Removes the element whose start tag ends at or before byte `position` (the one
/// feed-rs was reading), with everything up to its end tag.
fn without_element_at(doc: &str, position: usize) -> Option<String> {
    let upto = doc.get(..position.min(doc.len()))?;
    let start = upto
        .rmatch_indices('<')
        .map(|(i, _)| i)
        .find(|&i| doc[i + 1..].starts_with(|c: char| c.is_alphabetic()))?;
    let name: String = doc[start + 1..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
        .collect();
    let tag_close = doc[start..].find('>')? + start;
    let end = if doc[..tag_close].ends_with('/') {
        tag_close + 1
    } else {
        let closer = format!("</{name}>");
        doc[tag_close..].find(&closer)? + tag_close + closer.len()
    };
    Some(format!("{}{}", &doc[..start], &doc[end..]))
}

/// Makes a JSON Feed readable whatever its version and however loosely it is typed:
/// feed-rs wants `version` to start with `https://jsonfeed.org/version/1`, a `title`,
/// an `items` array and every field a string. Here any version (1.0 and 1.1, `http:`,
/// none) is read as 1.1, a missing title is empty, numbers become strings and fields of
/// other types are dropped. `None` when the body is not a JSON object.
fn loosen_json_feed(doc: &str) -> Option<String> {
    use serde_json::Value;
    let Value::Object(mut feed) = serde_json::from_str::<Value>(doc).ok()? else {
        return None;
    };
    fn text(v: Value) -> Option<Value> {
        match v {
            Value::String(_) => Some(v),
            Value::Number(n) => Some(Value::String(n.to_string())),
            _ => None,
        }
    }
    fn person(v: Value) -> Option<Value> {
        let Value::Object(mut p) = v else { return None };
        p.retain(|k, _| k == "name" || k == "url");
        for k in ["name", "url"] {
            if let Some(v) = p.remove(k).and_then(text) {
                p.insert(k.to_owned(), v);
            }
        }
        Some(Value::Object(p))
    }
    fn strings(fields: &mut serde_json::Map<String, Value>, keys: &[&str]) {
        for k in keys {
            if let Some(v) = fields.remove(*k)
                && let Some(v) = text(v)
            {
                fields.insert((*k).to_owned(), v);
            }
        }
    }
    fn people(fields: &mut serde_json::Map<String, Value>) {
        if let Some(a) = fields.remove("author")
            && let Some(a) = person(a)
        {
            fields.insert("author".into(), a);
        }
        if let Some(Value::Array(list)) = fields.remove("authors") {
            let list: Vec<Value> = list.into_iter().filter_map(person).collect();
            fields.insert("authors".into(), Value::Array(list));
        }
    }
    feed.insert(
        "version".into(),
        Value::String("https://jsonfeed.org/version/1.1".into()),
    );
    strings(
        &mut feed,
        &[
            "title",
            "home_page_url",
            "feed_url",
            "language",
            "description",
            "icon",
            "favicon",
        ],
    );
    feed.entry("title")
        .or_insert_with(|| Value::String(String::new()));
    people(&mut feed);
    let items = match feed.remove("items") {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let items: Vec<Value> = items
        .into_iter()
        .filter_map(|item| {
            let Value::Object(mut item) = item else {
                return None;
            };
            strings(
                &mut item,
                &[
                    "id",
                    "url",
                    "external_url",
                    "title",
                    "content_html",
                    "content_text",
                    "summary",
                    "date_published",
                    "date_modified",
                ],
            );
            people(&mut item);
            if let Some(Value::Array(tags)) = item.remove("tags") {
                let tags: Vec<Value> = tags.into_iter().filter(Value::is_string).collect();
                item.insert("tags".into(), Value::Array(tags));
            }
            if let Some(Value::Array(files)) = item.remove("attachments") {
                let files: Vec<Value> = files
                    .into_iter()
                    .filter(|f| f["url"].is_string() && f["mime_type"].is_string())
                    .collect();
                item.insert("attachments".into(), Value::Array(files));
            }
            Some(Value::Object(item))
        })
        .collect();
    feed.insert("items".into(), Value::Array(items));
    serde_json::to_string(&Value::Object(feed)).ok()
}

fn collect(feed: &Feed, cx: &FeedContext<'_>, out: &mut ParsedFeed) {
    let lang_hint = cx
        .language
        .map(str::to_owned)
        .or_else(|| feed.language.clone());
    let links: Vec<Option<Url>> = feed.entries.iter().map(|e| entry_link(e, cx)).collect();
    let mut uses: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for l in links.iter().flatten() {
        *uses.entry(l.as_str()).or_default() += 1;
    }
    for (entry, link) in feed.entries.iter().zip(&links) {
        // Entries sharing one link (comments on one post, linked as `post#comment-7`)
        // are told apart by their own ids, not merged as duplicates.
        let shared = link
            .as_ref()
            .is_some_and(|l| uses.get(l.as_str()).is_some_and(|n| *n > 1));
        out.mentions.push(to_mention(
            entry,
            feed.feed_type == FeedType::Atom,
            link.clone(),
            shared,
            lang_hint.as_deref(),
            cx,
        ));
    }
}

/// The entry's link: its first alternate (or untyped) link, else its first link, else
/// its id when that is an http(s) URL (an RSS `guid` is a permalink by default, and feed
/// readers take an Atom id that is a URL as the link), in canonical form.
fn entry_link(entry: &Entry, cx: &FeedContext<'_>) -> Option<Url> {
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| entry.links.first());
    match link {
        Some(l) => canonical_url(&l.href, Some(cx.url)),
        None => Url::parse(entry.id.trim())
            .ok()
            .and_then(|u| canonical_url(u.as_str(), None)),
    }
}

/// Every entry is a mention, as every feed reader counts it: one with only a title is
/// its title; one without title or text (only a link, an author, a date, or markup that
/// is no text) keeps empty text, which no topic rule matches, so it is indexed only for
/// sources that keep everything.
fn to_mention(
    entry: &Entry,
    atom: bool,
    url: Option<Url>,
    shared_url: bool,
    lang_hint: Option<&str>,
    cx: &FeedContext<'_>,
) -> Mention {
    let title = entry
        .title
        .as_ref()
        .or_else(|| entry.media.iter().find_map(|m| m.title.as_ref()))
        .map(|t| plain_text(t, atom))
        .filter(|t| !t.is_empty());
    let body = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .map(html_to_text)
        .filter(|t| !t.is_empty())
        .or_else(|| {
            entry
                .summary
                .as_ref()
                .or_else(|| entry.media.iter().find_map(|m| m.description.as_ref()))
                .map(|s| html_to_text(&s.content))
                .filter(|t| !t.is_empty())
        });
    let native = Some(entry.id.as_str()).filter(|id| !id.trim().is_empty());
    let author = entry
        .authors
        .first()
        .and_then(|p| p.name.as_deref().or(p.email.as_deref()))
        .map(collapse_whitespace)
        .filter(|n| !n.is_empty())
        .map(|name| Author { name, reach: None });
    let dated = entry.published.or(entry.updated);
    let text = body.or_else(|| title.clone()).unwrap_or_default();
    let content_hash = || {
        let mut key = format!("{} {text}", title.as_deref().unwrap_or_default());
        if text.is_empty() {
            // Without text, who and when tell entries apart.
            key = format!("{key} {:?} {:?}", author.as_ref().map(|a| &a.name), dated);
        }
        Fingerprint::of(&key).content_hash
    };
    let published = dated
        .filter(|d| *d <= cx.fetched_at + MAX_FUTURE_SKEW)
        .unwrap_or(cx.fetched_at);
    Mention {
        id: mention_id(
            cx.source,
            url.as_ref().filter(|_| !shared_url || native.is_none()),
            native,
            content_hash,
        ),
        source: cx.source.to_owned(),
        url: url.map(String::from),
        author,
        published_at: published,
        fetched_at: cx.fetched_at,
        title,
        text,
        lang_hint: lang_hint.map(str::to_owned),
        address: None,
        repost_of: None,
        reply_to: None,
    }
}

/// The text of a title. Atom says what a text construct holds: `type="text"` is text
/// (`History of the <blink> tag` keeps its `<blink>`), HTML and XHTML lose their markup.
/// RSS titles are read as HTML, as feed readers do: feeds put escaped markup in them.
fn plain_text(t: &feed_rs::model::Text, atom: bool) -> String {
    let plain = t.content_type.ty() == "text" && t.content_type.subty() == "plain";
    if atom && plain {
        collapse_whitespace(&t.content)
    } else {
        html_to_text(&t.content)
    }
}

/// Finds the line and column of the first well-formedness error in `doc`.
fn locate_error(doc: &str, url: &Url, feed_error: &feed_rs::parser::ParseFeedError) -> FetchError {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError};
    let mut reader = quick_xml::Reader::from_str(doc);
    let (pos, msg) = loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => {
                break match feed_error {
                    // Point at the root element that is not a feed (`<html>`).
                    ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => (
                        first_element(doc),
                        "not a feed: expected an <rss>, <feed> or <rdf:RDF> root element or a JSON Feed".to_owned(),
                    ),
                    other => (reader.buffer_position() as usize, other.to_string()),
                };
            }
            Ok(_) => {}
            Err(e) => {
                break (
                    reader.error_position() as usize,
                    format!("malformed XML: {e}"),
                );
            }
        }
    };
    let (line, col) = line_col(doc, pos);
    FetchError::Parse {
        url: url.to_string(),
        line,
        col,
        msg,
    }
}

/// Returns the byte offset of the first element's `<` (0 when there is none).
fn first_element(doc: &str) -> usize {
    doc.match_indices('<')
        .find(|(i, _)| {
            doc[i + 1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic())
        })
        .map_or(0, |(i, _)| i)
}

fn line_col(doc: &str, byte: usize) -> (usize, usize) {
    let byte = byte.min(doc.len());
    let before = doc.get(..byte).unwrap_or(doc);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(url: &Url) -> FeedContext<'_> {
        FeedContext {
            source: "test",
            url,
            language: None,
            fetched_at: DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default(),
        }
    }

    fn parse(body: &str) -> Result<ParsedFeed, FetchError> {
        let url = Url::parse("https://example.org/feed.xml").expect("url");
        parse_feed(body.as_bytes(), None, &cx(&url))
    }

    #[test]
    fn entries_without_ids_get_the_same_id_every_time() {
        let body = "<rss version=\"2.0\"><channel><title>t</title><item><description>Kein Link, keine ID</description></item></channel></rss>";
        let a = parse(body).expect("parses");
        let b = parse(body).expect("parses");
        assert_eq!(a.mentions[0].id, b.mentions[0].id);
    }

    #[test]
    fn recovers_entries_around_a_broken_one_and_from_a_truncated_tail() {
        let body = "<rss version=\"2.0\"><channel><title>t</title>\
            <item><title>one</title><link>https://example.org/1</link></item>\
            <item><title>two <b>bold</title><link>https://example.org/2</link></item>\
            <item><title>three</title><link>https://example.org/3</link></item>\
            <item><title>four</title><link>https://exa";
        let parsed = parse(body).expect("recovers");
        let titles: Vec<_> = parsed
            .mentions
            .iter()
            .filter_map(|m| m.title.clone())
            .collect();
        assert_eq!(titles, ["one", "three", "four"]);
        assert!(matches!(
            parsed.recovered_from,
            Some(FetchError::Parse { .. })
        ));
    }

    #[test]
    fn comments_sharing_a_link_stay_apart_and_a_guid_url_is_the_link() {
        let body = "<rss version=\"2.0\"><channel><title>c</title>\
            <item><guid>c-1</guid><link>https://blog.example/post#comment-1</link><description>eins</description></item>\
            <item><guid>c-2</guid><link>https://blog.example/post#comment-2</link><description>zwei</description></item>\
            <item><guid>https://blog.example/other</guid><description>drei</description></item>\
            </channel></rss>";
        let parsed = parse(body).expect("parses");
        assert_eq!(parsed.mentions.len(), 3);
        assert_ne!(parsed.mentions[0].id, parsed.mentions[1].id);
        assert_eq!(
            parsed.mentions[2].url.as_deref(),
            Some("https://blog.example/other")
        );
    }

    #[test]
    fn atom_text_titles_keep_angle_brackets_and_html_titles_lose_markup() {
        let body = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title>\
            <entry><id>a</id><title type=\"text\">History of the &lt;blink&gt; tag</title></entry>\
            <entry><id>b</id><title type=\"html\">&lt;b&gt;Bold&lt;/b&gt; news</title></entry></feed>";
        let parsed = parse(body).expect("parses");
        let titles: Vec<_> = parsed
            .mentions
            .iter()
            .filter_map(|m| m.title.clone())
            .collect();
        assert_eq!(titles, ["History of the <blink> tag", "Bold news"]);
    }

    #[test]
    fn html_is_not_a_feed_and_the_error_says_where() {
        let err = parse("<!DOCTYPE html>\n<html><body>hi</body></html>").expect_err("not a feed");
        let msg = err.to_string();
        assert!(msg.starts_with("https://example.org/feed.xml:"), "{msg}");
        assert!(msg.contains("not a feed"), "{msg}");
    }

    #[test]
    fn future_and_missing_dates_become_fetch_time() {
        let body = "<rss version=\"2.0\"><channel><title>t</title>\
            <item><title>a</title><pubDate>Tue, 20 Nov 2035 10:00:00 GMT</pubDate></item>\
            <item><title>b</title></item></channel></rss>";
        let parsed = parse(body).expect("parses");
        assert!(
            parsed
                .mentions
                .iter()
                .all(|m| m.published_at == m.fetched_at)
        );
    }
}
