//! Bad input and failing servers: each is reported with its source and URL, counted,
//! and never stops the daemon or the other sources.

use std::time::Duration;

use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::util::{Dir, feed, serve, source, texts};

#[tokio::test(flavor = "multi_thread")]
async fn broken_sources_are_reported_and_the_good_ones_still_index() {
    let server = MockServer::start().await;
    let ok = |body: String| ResponseTemplate::new(200).set_body_raw(body, "application/rss+xml");
    let html = "<!DOCTYPE html>\n<html><body><p>Moved</p></body></html>";
    let bad_utf8 =
        b"<rss version=\"2.0\"><channel><title>t</title><item><link>https://u.example/1</link>\
        <description>Acme Bahn \xff\xfe kaputt \xc3</description></item></channel></rss>";
    let routes = [
        ("/good.xml", feed("feeds/rss2.xml")),
        ("/truncated.xml", feed("feeds/truncated.xml")),
        ("/html.xml", ok(html.into())),
        ("/500.xml", ResponseTemplate::new(500)),
        (
            "/huge.xml",
            ok(format!("<rss>{}</rss>", "x".repeat(64 * 1024))),
        ),
        (
            "/loop",
            ResponseTemplate::new(302).insert_header("location", "/loop"),
        ),
        (
            "/invalid-utf8.xml",
            ResponseTemplate::new(200).set_body_bytes(bad_utf8.to_vec()),
        ),
        (
            "/slow.xml",
            feed("feeds/rss2.xml").set_delay(Duration::from_secs(3)),
        ),
    ];
    for (route, response) in routes {
        serve(&server, route, response, None).await;
    }
    let dir = Dir::new();
    let u = server.uri();
    dir.write_config_with(
        &[
            source("slow", &format!("{u}/slow.xml")),
            source("good", &format!("{u}/good.xml")),
            source("truncated", &format!("{u}/truncated.xml")),
            source("html", &format!("{u}/html.xml")),
            source("err500", &format!("{u}/500.xml")),
            source("huge", &format!("{u}/huge.xml")),
            source("loop", &format!("{u}/loop")),
            source("badutf8", &format!("{u}/invalid-utf8.xml")),
        ]
        .concat(),
        "  body_limit: 16KiB\n  max_redirects: 3\n  timeout: 1s\n",
    );
    tokio::task::spawn_blocking(move || {
        let out = dir.run_once();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(
            log.contains(&format!("{u}/html.xml:2:1: not a feed")),
            "{log}"
        );
        assert!(log.contains("HTTP 500"), "{log}");
        assert!(log.contains("body larger than 16384 bytes"), "{log}");
        assert!(log.contains("too many redirects"), "{log}");
        assert!(log.contains(&format!("{u}/slow.xml: timed out")), "{log}");
        assert!(log.contains("malformed feed partially recovered"), "{log}");
        assert_eq!(dir.total(&["--source", "good"]), 2);
        // The complete entries before the cut are recovered, and what arrived of the
        // cut one (its title, the start of its text).
        assert_eq!(dir.total(&["--source", "truncated"]), 3);
        assert!(
            texts(&dir.search(&["--source", "truncated"]))
                .iter()
                .any(|t| t.starts_with("Acme Bahn Text der mitten im")),
        );
        assert_eq!(texts(&dir.search(&["--source", "badutf8"])).len(), 1);
    })
    .await
    .expect("test body");
}

#[tokio::test(flavor = "multi_thread")]
async fn robots_txt_disallow_is_obeyed() {
    let server = MockServer::start().await;
    Mock::given(path("/robots.txt"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string("User-agent: *\nDisallow: /private/\n"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/private/feed.xml"))
        .respond_with(feed("feeds/rss2.xml"))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(path("/public/feed.xml"))
        .respond_with(feed("feeds/atom.xml"))
        .expect(1)
        .mount(&server)
        .await;
    let dir = Dir::new();
    let u = server.uri();
    dir.write_config(
        &[
            source("private", &format!("{u}/private/feed.xml")),
            source("public", &format!("{u}/public/feed.xml")),
        ]
        .concat(),
    );
    tokio::task::spawn_blocking(move || {
        let out = dir.run_once();
        assert!(String::from_utf8_lossy(&out.stderr).contains("disallowed by robots.txt"));
        assert_eq!(dir.total(&[]), 2);
    })
    .await
    .expect("test body");
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_with_retry_after_is_retried_after_the_delay() {
    let server = MockServer::start().await;
    let limited = ResponseTemplate::new(429).insert_header("retry-after", "1");
    serve(&server, "/feed.xml", limited, Some(1)).await;
    serve(&server, "/feed.xml", feed("feeds/atom.xml"), None).await;
    let dir = Dir::new();
    dir.write_config(&source("limited", &format!("{}/feed.xml", server.uri())));
    let started = std::time::Instant::now();
    let (ok, log) = tokio::task::spawn_blocking(move || {
        let daemon = dir.start_daemon();
        daemon.wait_for("q=", |p| p["total"] == 2);
        daemon.terminate()
    })
    .await
    .expect("test body");
    assert!(ok, "graceful exit: {log}");
    assert!(
        log.contains("kind=\"http_429\"") || log.contains("kind=http_429"),
        "{log}"
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    let requests = server.received_requests().await.unwrap_or_default();
    let feed_requests: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/feed.xml")
        .collect();
    assert!(feed_requests.len() >= 2);
}

/// Issue 18 (hardening): a feed URL that leads to the daemon's own machine or network is
/// refused unless its source opts in with `allow_private`, and the refusal names the URL.
#[tokio::test(flavor = "multi_thread")]
async fn sources_reach_private_addresses_only_when_they_opt_in() {
    let server = MockServer::start().await;
    Mock::given(path("/guarded.xml"))
        .respond_with(feed("feeds/rss2.xml"))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(path("/open.xml"))
        .respond_with(feed("feeds/atom.xml"))
        .expect(1)
        .mount(&server)
        .await;
    let dir = Dir::new();
    let u = server.uri();
    let guarded =
        source("guarded", &format!("{u}/guarded.xml")).replace("    allow_private: true\n", "");
    let localhost = source(
        "named",
        &format!("{}/guarded.xml", u.replace("127.0.0.1", "localhost")),
    )
    .replace("    allow_private: true\n", "");
    dir.write_config(&[guarded, localhost, source("open", &format!("{u}/open.xml"))].concat());
    tokio::task::spawn_blocking(move || {
        let out = dir.run_once();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(
            log.contains(&format!(
                "{u}/guarded.xml: 127.0.0.1 is a non-public address"
            )),
            "{log}"
        );
        assert!(log.contains("localhost is a non-public address"), "{log}");
        assert!(log.contains("set allow_private: true"), "{log}");
        assert_eq!(dir.total(&[]), 2, "the source that opted in is indexed");
    })
    .await
    .expect("test body");
    server.verify().await;
}
