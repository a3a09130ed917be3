//! Parses RSS, Atom and JSON Feed bodies into mentions, recovering what it can.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use feed_rs::model::{Entry, Feed};
use lauscher_model::{Author, Mention};
use lauscher_text::Fingerprint;
use lauscher_text::normalize::{collapse_whitespace, html_to_text};
use url::Url;

use crate::canonical::{canonical_url, mention_id};
use crate::error::FetchError;
use crate::repair::{sanitize, split_entries};

/// Dates further in the future than this are treated as missing.
const MAX_FUTURE_SKEW: ChronoDuration = ChronoDuration::minutes(5);

/// The result of parsing one feed body.
#[derive(Debug)]
pub struct ParsedFeed {
    /// The mentions found, in document order.
    pub mentions: Vec<Mention>,
    /// Entries dropped because they had neither title nor text.
    pub skipped: usize,
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
                skipped: 0,
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
                skipped: 0,
                recovered_from: None,
                ttl_minutes: None,
            };
            for entry in &split.entries {
                let one = format!("{}{}{}", split.header, entry, split.closers);
                if let Ok(feed) = parse_document(&one, cx.url) {
                    parsed.ttl_minutes = parsed.ttl_minutes.or(feed.ttl);
                    collect(&feed, cx, &mut parsed);
                }
            }
            if parsed.mentions.is_empty() && parsed.skipped == 0 {
                return Err(first_error);
            }
            parsed.recovered_from = Some(first_error);
            Ok(parsed)
        }
    }
}

fn parse_document(doc: &str, base: &Url) -> Result<Feed, feed_rs::parser::ParseFeedError> {
    feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        // Missing ids stay empty; we derive deterministic ones (feed-rs would use UUIDs).
        .id_generator(|_, _, _| String::new())
        .build()
        .parse(doc.as_bytes())
}

fn collect(feed: &Feed, cx: &FeedContext<'_>, out: &mut ParsedFeed) {
    let lang_hint = cx
        .language
        .map(str::to_owned)
        .or_else(|| feed.language.clone());
    for entry in &feed.entries {
        match to_mention(entry, lang_hint.as_deref(), cx) {
            Some(m) => out.mentions.push(m),
            None => out.skipped += 1,
        }
    }
}

fn to_mention(entry: &Entry, lang_hint: Option<&str>, cx: &FeedContext<'_>) -> Option<Mention> {
    let title = entry
        .title
        .as_ref()
        .map(|t| html_to_text(&t.content))
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
                .map(|s| html_to_text(&s.content))
                .filter(|t| !t.is_empty())
        });
    let text = match (&body, &title) {
        (Some(b), _) => b.clone(),
        (None, Some(t)) => t.clone(),
        (None, None) => return None,
    };
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| entry.links.first());
    let url = link.and_then(|l| canonical_url(&l.href, Some(cx.url)));
    let native = Some(entry.id.as_str()).filter(|id| !id.trim().is_empty());
    let content_hash = || {
        Fingerprint::of(&format!("{} {text}", title.as_deref().unwrap_or_default())).content_hash
    };
    let published = entry
        .published
        .or(entry.updated)
        .filter(|d| *d <= cx.fetched_at + MAX_FUTURE_SKEW)
        .unwrap_or(cx.fetched_at);
    let author = entry
        .authors
        .first()
        .and_then(|p| p.name.as_deref().or(p.email.as_deref()))
        .map(collapse_whitespace)
        .filter(|n| !n.is_empty())
        .map(|name| Author { name, reach: None });
    Some(Mention {
        id: mention_id(cx.source, url.as_ref(), native, content_hash),
        source: cx.source.to_owned(),
        url: url.map(String::from),
        author,
        published_at: published,
        fetched_at: cx.fetched_at,
        title,
        text,
        lang_hint: lang_hint.map(str::to_owned),
        repost_of: None,
    })
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
        assert_eq!(titles, ["one", "three"]);
        assert!(matches!(
            parsed.recovered_from,
            Some(FetchError::Parse { .. })
        ));
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
