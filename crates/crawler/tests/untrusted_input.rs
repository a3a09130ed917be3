//! Untrusted bytes never panic the parsers: feeds, URLs, HTML.

use chrono::Utc;
use lauscher_crawler::canonical_url;
use lauscher_crawler::feed::{FeedContext, parse_feed};
use lauscher_crawler::repair::{sanitize, split_entries};
use lauscher_text::normalize::html_to_text;
use proptest::prelude::*;
use url::Url;

const SEED_FEED: &str = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>t &amp; &nbsp;</title>\
<item><title>Acme</title><link>https://e.example/1?utm_source=x</link><description><![CDATA[<p>Hi &amp; bye</p>]]></description></item>\
<item><title>B</title><guid>g</guid><pubDate>Fri, 20 Nov 2026 08:00:00 +0100</pubDate></item></channel></rss>";

fn parse(bytes: &[u8]) {
    let url = Url::parse("https://example.org/feed.xml").expect("url");
    let cx = FeedContext {
        source: "p",
        url: &url,
        language: None,
        fetched_at: Utc::now(),
    };
    let _ = parse_feed(bytes, Some("utf-8"), &cx);
}

proptest! {
    #![proptest_config(lauscher_testkit::fuzz_config())]

    #[test]
    fn arbitrary_bytes_never_panic_the_feed_parser(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        parse(&bytes);
        let doc = sanitize(&bytes, None);
        let _ = split_entries(&doc);
    }

    #[test]
    fn mangled_feeds_never_panic(cut in 0usize..SEED_FEED.len(), insert in "[<>&;\"'#!\\[\\]a-z\u{e4}\u{1F600}]{0,8}") {
        let mut s = SEED_FEED.as_bytes()[..cut].to_vec();
        s.extend_from_slice(insert.as_bytes());
        s.extend_from_slice(&SEED_FEED.as_bytes()[cut..]);
        parse(&s);
        parse(&SEED_FEED.as_bytes()[..cut]);
    }

    #[test]
    fn urls_and_html_never_panic(s in "\\PC{0,200}") {
        let _ = canonical_url(&s, None);
        let base = Url::parse("https://example.org/a/b").ok();
        let _ = canonical_url(&s, base.as_ref());
        let _ = html_to_text(&s);
    }
}
