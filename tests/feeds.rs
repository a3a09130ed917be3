//! Feeds of every common shape are crawled, analysed, indexed and searchable.

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::util::{Dir, feed, fixture, serve, source, texts};

fn body(text: &str, ctype: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(text.to_owned(), ctype)
}

#[tokio::test(flavor = "multi_thread")]
async fn rss_atom_and_cdata_feeds_are_indexed_and_searchable() {
    let server = MockServer::start().await;
    serve(&server, "/rss.xml", feed("feeds/rss2.xml"), None).await;
    serve(&server, "/atom.xml", feed("feeds/atom.xml"), None).await;
    serve(
        &server,
        "/forum.xml",
        feed("feeds/rss-entities-cdata.xml"),
        None,
    )
    .await;
    let dir = Dir::new();
    let u = server.uri();
    dir.write_config(
        &[
            source("news", &format!("{u}/rss.xml")),
            source("social", &format!("{u}/atom.xml")),
            source("forum", &format!("{u}/forum.xml")),
        ]
        .concat(),
    );
    tokio::task::spawn_blocking(move || {
        dir.run_once();
        // The weather item matches no topic and is not indexed.
        assert_eq!(dir.total(&[]), 6);
        assert_eq!(dir.total(&["--source", "news"]), 2);
        assert_eq!(dir.total(&["--topic", "blitzbus"]), 2);
        assert_eq!(dir.total(&["--lang", "en"]), 2);
        // Stemmed search finds inflected forms; folded search ignores diacritics.
        assert_eq!(texts(&dir.search(&["verspätung"])).len(), 1);
        assert_eq!(dir.total(&["crashes"]), 1);
        assert_eq!(dir.total(&["\"keeps crashing\""]), 1);
        // HTML, CDATA, entities and scripts are cleaned; tracking parameters dropped.
        let forum = dir.search(&["--source", "forum"]);
        let all = forum.to_string();
        assert!(
            all.contains("Acme Bahn & das WLAN – ein Trauerspiel"),
            "{all}"
        );
        assert!(
            all.contains("Im Zug der Acme Bahn gab es wieder kein WLAN & keinen Strom. Link"),
            "{all}"
        );
        assert!(!all.contains("alert(1)") && !all.contains("<b>"), "{all}");
        assert!(
            all.contains("https://forum.example.org/t/11?ref=home\""),
            "{all}"
        );
        let news = dir.search(&["--source", "news", "verspätungen"]);
        assert_eq!(news["hits"][0]["url"], "https://news.example.org/artikel/1");
        assert_eq!(news["hits"][0]["author"], "Redaktion");
        assert_eq!(news["hits"][0]["label"], "negative");
        // The cues behind the label are computed again for the page, and agree with it.
        let cues = &news["hits"][0]["explanation"];
        assert!(cues.as_array().is_some_and(|c| !c.is_empty()), "{news}");
        assert!(news["hits"][0].get("explanation_note").is_none(), "{news}");
        let social = dir.search(&["--source", "social", "blitzbus"]);
        assert_eq!(social["hits"][0]["label"], "positive");
        assert_eq!(social["hits"][0]["published_at"], "2026-11-20T11:30:00Z");
    })
    .await
    .expect("test body");
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_without_ids_are_indexed_once_across_polls() {
    let server = MockServer::start().await;
    serve(&server, "/noids.xml", feed("feeds/rss-no-ids.xml"), None).await;
    let dir = Dir::new();
    dir.write_config(&source("noids", &format!("{}/noids.xml", server.uri())));
    tokio::task::spawn_blocking(move || {
        dir.run_once();
        let first = dir.search(&[]);
        assert_eq!(first["total"], 2);
        dir.run_once();
        let second = dir.search(&[]);
        assert_eq!(first, second, "ids must be stable between polls");
    })
    .await
    .expect("test body");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_feed_that_changes_between_polls_adds_only_new_entries() {
    let server = MockServer::start().await;
    serve(&server, "/c.xml", feed("feeds/rss-v1.xml"), Some(1)).await;
    serve(&server, "/c.xml", feed("feeds/rss-v2.xml"), None).await;
    let dir = Dir::new();
    dir.write_config(&source("changing", &format!("{}/c.xml", server.uri())));
    tokio::task::spawn_blocking(move || {
        dir.run_once();
        assert_eq!(dir.total(&[]), 2);
        dir.run_once();
        assert_eq!(dir.total(&[]), 3);
        assert_eq!(dir.total(&["drei"]), 1);
    })
    .await
    .expect("test body");
}

#[tokio::test(flavor = "multi_thread")]
async fn etag_and_last_modified_are_sent_back_and_304_costs_nothing() {
    let server = MockServer::start().await;
    // A conditional request gets 304; the unconditional one the body with validators.
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(304))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("feeds/rss2.xml"), "application/rss+xml")
                .insert_header("etag", "\"v1\"")
                .insert_header("last-modified", "Fri, 20 Nov 2026 10:00:00 GMT"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = Dir::new();
    dir.write_config(&source("news", &format!("{}/feed.xml", server.uri())));
    tokio::task::spawn_blocking(move || {
        dir.run_once();
        assert_eq!(dir.total(&[]), 2);
        // The second run starts from the stored cursor: it must send the validators.
        dir.run_once();
        assert_eq!(dir.total(&[]), 2);
    })
    .await
    .expect("test body");
    server.verify().await;
    // wiremock's header matcher splits values at commas, so check the date here.
    let requests = server.received_requests().await.unwrap_or_default();
    let conditional = requests
        .iter()
        .find(|r| r.headers.contains_key("if-none-match"))
        .expect("a conditional request");
    assert_eq!(
        conditional
            .headers
            .get("if-modified-since")
            .and_then(|v| v.to_str().ok()),
        Some("Fri, 20 Nov 2026 10:00:00 GMT")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_text_on_another_site_is_a_repost_and_again_on_one_site_a_duplicate() {
    let server = MockServer::start().await;
    let a = "<rss version=\"2.0\"><channel><title>a</title><item><link>https://a.example/1</link>\
             <description>Acme Bahn: Zug nach Köln fällt heute wegen Sturm komplett aus</description></item></channel></rss>";
    let b = "<rss version=\"2.0\"><channel><title>b</title><item><link>https://b.example/9</link>\
             <description>RT @bahnnews: Acme Bahn: Zug nach Köln fällt heute wegen Sturm komplett aus https://t.co/x</description></item>\
             <item><link>https://b.example/10</link><description>Acme Bahn: Zug nach Köln fällt heute wegen Sturm komplett aus!!</description></item>\
             </channel></rss>";
    serve(&server, "/a.xml", body(a, "application/rss+xml"), None).await;
    serve(&server, "/b.xml", body(b, "application/rss+xml"), None).await;
    let dir = Dir::new();
    let u = server.uri();
    dir.write_config(
        &[
            source("a", &format!("{u}/a.xml")),
            source("b", &format!("{u}/b.xml")),
        ]
        .concat(),
    );
    tokio::task::spawn_blocking(move || {
        dir.run_once();
        // Site b's retweet and its own copy are one text by one author (the site):
        // the copy is a duplicate. Site a's post and site b's are two mentions, the
        // later one a repost of the first.
        let page = dir.search(&[]);
        assert_eq!(page["total"], 2, "{page}");
        let hits = page["hits"].as_array().expect("hits");
        let originals: Vec<&serde_json::Value> =
            hits.iter().filter(|h| h["repost_of"].is_null()).collect();
        let reposts: Vec<&serde_json::Value> =
            hits.iter().filter(|h| !h["repost_of"].is_null()).collect();
        assert_eq!((originals.len(), reposts.len()), (1, 1), "{page}");
        assert_eq!(reposts[0]["repost_of"], originals[0]["id"]);
        let collapsed = dir.search(&["--collapse", "reposts"]);
        assert_eq!(collapsed["total"], 1, "{collapsed}");
        assert_eq!(collapsed["hits"][0]["reposts"], 1, "{collapsed}");
    })
    .await
    .expect("test body");
}

#[tokio::test(flavor = "multi_thread")]
async fn latin1_feeds_and_mislabelled_charsets_decode() {
    let server = MockServer::start().await;
    let text = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>l</title>\
                <item><link>https://l.example/1</link><description>Acme Bahn: Grüße aus Köln, Verspätung wegen Störung</description></item>\
                </channel></rss>";
    let latin1: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
    let response = ResponseTemplate::new(200).set_body_raw(latin1, "text/xml; charset=utf-8");
    serve(&server, "/l.xml", response, None).await;
    let dir = Dir::new();
    dir.write_config(&source("latin", &format!("{}/l.xml", server.uri())));
    tokio::task::spawn_blocking(move || {
        dir.run_once();
        let page = dir.search(&["köln"]);
        assert_eq!(
            texts(&page),
            ["Acme Bahn: Grüße aus Köln, Verspätung wegen Störung"]
        );
    })
    .await
    .expect("test body");
}

/// Every shape of feed a forgiving feed reader accepts yields every entry: Atom 0.3,
/// RSS 1.0 and 0.90 (RDF), a last end tag cut before its `>`, junk and a doctype before
/// the root, a feed served as `text/html`, JSON Feed 1.0 and 1.1 under their content
/// types, entries with only a title or only content, entity forms, and `<rss>` without
/// version, channel or with a default namespace.
#[tokio::test(flavor = "multi_thread")]
async fn every_feed_variant_a_feed_reader_accepts_is_read_whole() {
    let server = MockServer::start().await;
    let variants = [
        ("atom03", "atom03.xml", "application/atom+xml", 2),
        ("rdf", "rdf.xml", "application/rdf+xml", 2),
        ("rss090", "rss090.xml", "application/rss+xml", 1),
        ("cut", "cut-end-tag.xml", "application/atom+xml", 2),
        ("junk", "junk-before-root.xml", "text/xml", 1),
        ("jf10", "jsonfeed-10.json", "application/json", 2),
        ("jf11", "jsonfeed-11.json", "application/feed+json", 2),
        (
            "partial",
            "title-or-content-only.xml",
            "application/rss+xml",
            3,
        ),
        ("entities", "entities.xml", "application/rss+xml", 3),
        ("bare", "rss-bare.xml", "application/xml", 2),
        ("html", "served-as-html.xml", "text/html; charset=utf-8", 1),
    ];
    let u = server.uri();
    let mut sources = String::new();
    for (id, file, ctype, _) in variants {
        let route = format!("/{id}");
        Mock::given(method("GET"))
            .and(path(route.as_str()))
            .respond_with(body(&fixture(&format!("feeds/variants/{file}")), ctype))
            .mount(&server)
            .await;
        sources.push_str(&source(id, &format!("{u}{route}")));
    }
    let dir = Dir::new();
    dir.write_config(&sources);
    tokio::task::spawn_blocking(move || {
        dir.run_once();
        for (id, _, _, entries) in variants {
            assert_eq!(dir.total(&["--source", id]), entries, "source {id}");
        }
        let all = dir.search(&[]).to_string();
        for expected in [
            "Acme Bahn im Atom-0.3-Feed",
            "Acme Bahn ohne link-Element",
            "https://rdf.example.org/2",
            "Acme Bahn im JSON Feed 1.0",
            "Acme nur Text, kein Titel",
            "Acme Bahn im JSON Feed 1.1",
            "Acme nur ein Inhalt ohne Titel und Link",
            "https://partial.example.org/guid-only",
            "Acme hex groß",
            "Acme dezimal & café AT&T",
            "Acme abgeschnitten zwei",
        ] {
            assert!(all.contains(expected), "{expected}: {all}");
        }
    })
    .await
    .expect("test thread");
}

/// 301, 302, 303, 307 and 308 are followed; a feed that moved for good (301 or 308
/// all the way) is polled at its new URL from then on; a 410 stops polling.
#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_followed_permanent_moves_remembered_and_gone_feeds_left_alone() {
    let server = MockServer::start().await;
    let u = server.uri();
    for (status, from) in [
        (301, "/m301"),
        (302, "/m302"),
        (303, "/m303"),
        (307, "/m307"),
        (308, "/m308"),
    ] {
        Mock::given(method("GET"))
            .and(path(from))
            .respond_with(
                ResponseTemplate::new(status).insert_header("Location", format!("{u}/new{from}")),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/new{from}")))
            .respond_with(feed("feeds/rss2.xml"))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/gone"))
        .respond_with(ResponseTemplate::new(410))
        .mount(&server)
        .await;
    let dir = Dir::new();
    let mut sources = String::new();
    for id in ["m301", "m302", "m303", "m307", "m308", "gone"] {
        sources.push_str(&source(id, &format!("{u}/{id}")));
    }
    dir.write_config(&sources);
    let dir = tokio::task::spawn_blocking(move || {
        dir.run_once();
        // All five serve the same feed: its two entries, once.
        assert_eq!(dir.total(&[]), 2);
        dir.run_once();
        dir
    })
    .await
    .expect("test thread");
    let requests = server.received_requests().await.unwrap_or_default();
    let count = |p: &str| requests.iter().filter(|r| r.url.path() == p).count();
    // Permanent moves: the old URL is asked once, the new one on both runs.
    assert_eq!((count("/m301"), count("/new/m301")), (1, 2));
    assert_eq!((count("/m308"), count("/new/m308")), (1, 2));
    // Temporary ones keep being asked at the configured URL, and followed.
    for p in ["m302", "m303", "m307"] {
        assert_eq!(
            (count(&format!("/{p}")), count(&format!("/new/{p}"))),
            (2, 2),
            "{p}"
        );
    }
    assert_eq!(count("/gone"), 2, "one poll per run, none after the 410");
    drop(dir);
}
