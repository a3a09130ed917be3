//! Social sources against fake APIs on 127.0.0.1: Mastodon, Hacker News (Algolia),
//! Lemmy, Reddit's search feed and YouTube channel feeds.

use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::util::{Dir, fixture};

fn json(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture(name), "application/json")
}

fn api_source(id: &str, kind: &str, extra: &str) -> String {
    format!("  - id: {id}\n    kind: {kind}\n    interval: 1s\n    allow_private: true\n{extra}")
}

/// Hashtag timelines page with `min_id`, a status seen through two instances is one
/// mention, a boost reposts its original, HTML is stripped, the app token is sent, and
/// the author's followers are the reach.
#[tokio::test(flavor = "multi_thread")]
async fn mastodon_timelines_page_dedupe_across_instances_and_boosts_repost() {
    let home = MockServer::start().await;
    let other = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/timelines/tag/acme"))
        .and(header("authorization", "Bearer app-token-123"))
        .and(query_param("min_id", "113000000000000003"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("[]", "application/json"))
        .mount(&home)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/timelines/tag/acme"))
        .and(header("authorization", "Bearer app-token-123"))
        .respond_with(json("mastodon/tag-page1.json").insert_header("X-RateLimit-Remaining", "299"))
        .mount(&home)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/timelines/public"))
        .and(query_param("local", "true"))
        .respond_with(json("mastodon/other-instance.json"))
        .mount(&other)
        .await;
    let dir = Dir::new();
    let home_url = home.uri();
    let other_url = other.uri();
    dir.write_config(
        &[
            api_source(
                "masto",
                "mastodon",
                &format!("    url: {home_url}/\n    hashtags: [acme]\n    token: app-token-123\n"),
            ),
            api_source(
                "masto2",
                "mastodon",
                &format!("    url: {other_url}/\n    local: true\n"),
            ),
        ]
        .concat(),
    );
    let dir = tokio::task::spawn_blocking(move || {
        dir.run_once();
        // Ana's status (through both instances), Cem's original and Bob's boost.
        assert_eq!(dir.total(&[]), 3);
        let all = dir.search(&[]).to_string();
        assert!(
            all.contains("Die #Acme App stürzt beim Login ab & nichts geht"),
            "{all}"
        );
        assert!(!all.contains("<p>") && !all.contains("<span>"), "{all}");
        assert!(all.contains("https://other.example/@ana/77"), "{all}");
        assert!(all.contains("1200"), "followers are the reach: {all}");
        // The two instances are polled at once and the first copy in is kept, so the
        // reply reference is in either instance's id space.
        assert!(
            all.contains("/api/v1/statuses/112999\"") || all.contains("/api/v1/statuses/401\""),
            "reply reference: {all}"
        );
        assert_eq!(
            dir.total(&["--collapse", "reposts"]),
            2,
            "the boost is a repost"
        );
        dir.run_once();
        assert_eq!(dir.total(&[]), 3);
        dir
    })
    .await
    .expect("test thread");
    let requests = home.received_requests().await.unwrap_or_default();
    assert!(
        requests.iter().any(|r| r
            .url
            .query()
            .is_some_and(|q| q.contains("min_id=113000000000000003"))),
        "the second poll asks for what came after the newest status"
    );
    drop(dir);
}

/// Algolia's search is read newest first, then from the newest second on, so a
/// second poll reads only what is new and the shared second loses nothing.
#[tokio::test(flavor = "multi_thread")]
async fn hacker_news_stories_and_comments_are_read_from_where_the_last_poll_ended() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .and(query_param("query", "acme"))
        .and(query_param("tags", "(story,comment)"))
        .respond_with(json("hackernews/newest.json"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .respond_with(json("hackernews/since.json"))
        .mount(&server)
        .await;
    let dir = Dir::new();
    let u = server.uri();
    dir.write_config(&api_source(
        "hn",
        "hackernews",
        &format!("    url: {u}/\n    query: acme\n"),
    ));
    let dir = tokio::task::spawn_blocking(move || {
        dir.run_once();
        assert_eq!(dir.total(&["--source", "hn"]), 2);
        let all = dir.search(&[]).to_string();
        assert!(
            all.contains("Acme's API has been down for an hour"),
            "{all}"
        );
        assert!(
            all.contains("https://news.ycombinator.com/item?id=4001"),
            "{all}"
        );
        assert!(
            all.contains("\"reply_to\":\"https://news.ycombinator.com/item?id=4001\""),
            "a comment answers its parent: {all}"
        );
        dir.run_once();
        // The second poll adds the new comment; the shared second is no duplicate.
        assert_eq!(dir.total(&["--source", "hn"]), 3);
        dir
    })
    .await
    .expect("test thread");
    let requests = server.received_requests().await.unwrap_or_default();
    let second = requests
        .iter()
        .filter_map(|r| r.url.query().map(str::to_owned))
        .find(|q| q.contains("numericFilters"))
        .unwrap_or_default();
    assert!(second.contains("created_at_i%3E%3D1763632800"), "{second}");
    drop(dir);
}

/// Lemmy posts and comments (the instance's search limit read once), Reddit's search feed
/// and a YouTube channel's feed.
#[tokio::test(flavor = "multi_thread")]
async fn lemmy_reddit_and_youtube_sources_index_their_posts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/search"))
        .and(query_param("q", "acme"))
        .and(query_param("sort", "New"))
        .respond_with(json("lemmy/search.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/site"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"site_view": {
            "local_site_rate_limit": {"search": 1, "search_per_second": 600}}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/search.rss"))
        .and(query_param("q", "acme"))
        .and(query_param("sort", "new"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("reddit/search.rss"), "application/atom+xml"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/feeds/videos.xml"))
        .and(query_param("channel_id", "UCabcdefghijklmnopqrstuv"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("youtube/videos.xml"), "application/atom+xml"),
        )
        .mount(&server)
        .await;
    let dir = Dir::new();
    let u = server.uri();
    dir.write_config(
        &[
            api_source(
                "lemmy",
                "lemmy",
                &format!("    url: {u}/\n    query: acme\n"),
            ),
            api_source(
                "reddit",
                "reddit",
                &format!("    url: {u}/\n    query: acme\n"),
            ),
            api_source(
                "yt",
                "youtube",
                &format!("    url: {u}/\n    channel: UCabcdefghijklmnopqrstuv\n"),
            ),
        ]
        .concat(),
    );
    tokio::task::spawn_blocking(move || {
        dir.run_once();
        assert_eq!(dir.total(&["--source", "lemmy"]), 2);
        assert_eq!(dir.total(&["--source", "reddit"]), 1);
        assert_eq!(dir.total(&["--source", "yt"]), 1);
        let all = dir.search(&[]).to_string();
        for expected in [
            "https://lemmy.example/post/1",
            "Acme hat mir eine Gutschrift angeboten",
            "Acme hat meine Bestellung storniert und antwortet nicht",
            "Acme zeigt in drei Minuten, was die neue App kann.",
            "\"reply_to\":\"https://lemmy.example/post/1\"",
        ] {
            assert!(all.contains(expected), "{expected}: {all}");
        }
    })
    .await
    .expect("test thread");
}

/// Each kind is checked where it is written: what it needs, and settings it ignores.
#[test]
fn source_settings_are_checked_per_kind() {
    let dir = Dir::new();
    dir.write_config(&api_source("hn", "hackernews", "    hashtags: [acme]\n"));
    let out = dir
        .cmd(&["check", "--config"])
        .arg(dir.config())
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("hashtags is not a setting of kind hackernews"),
        "{err}"
    );
    assert!(err.contains("lauscher.yaml:"), "{err}");
    dir.write_config(&api_source("yt", "youtube", ""));
    let out = dir
        .cmd(&["check", "--config"])
        .arg(dir.config())
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kind youtube needs channel"), "{err}");
}

/// More than 1,000 hits since the checkpoint: the window is halved until it fits, the
/// slice is read whole, and the next poll starts where the slice ended.
#[tokio::test(flavor = "multi_thread")]
async fn hacker_news_windows_over_the_hit_cap_are_sliced_by_time() {
    let server = MockServer::start().await;
    // First poll: the newest page.
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .respond_with(json("hackernews/newest.json"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    // From the checkpoint to now: too many hits for one query.
    let slice = |nb_hits: u64| {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "hits": [{"objectID": format!("h{nb_hits}"), "created_at_i": 1763632850,
                      "author": "x", "comment_text": format!("Acme slice of {nb_hits}")}],
            "nbHits": nb_hits, "nbPages": 1
        }))
    };
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .respond_with(slice(5_000))
        .up_to_n_times(3)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .respond_with(slice(600))
        .mount(&server)
        .await;
    let dir = Dir::new();
    let u = server.uri();
    dir.write_config(&api_source(
        "hn",
        "hackernews",
        &format!("    url: {u}/\n    query: acme\n"),
    ));
    let dir = tokio::task::spawn_blocking(move || {
        dir.run_once();
        dir.run_once();
        dir
    })
    .await
    .expect("test thread");
    let filters: Vec<(i64, i64)> = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let (_, f) = r.url.query_pairs().find(|(k, _)| k == "numericFilters")?;
            let mut bounds = f.split(',').filter_map(|b| {
                b.split_once(['=', '<'])
                    .and_then(|(_, v)| v.trim_start_matches('=').parse().ok())
            });
            Some((bounds.next()?, bounds.next()?))
        })
        .collect();
    assert!(filters.len() >= 4, "{filters:?}");
    // Every query starts at the checkpoint; each cut halves the window.
    let (from, _) = filters[0];
    assert_eq!(from, 1763632800);
    for pair in filters.windows(2).take(3) {
        assert_eq!(pair[1].0, from);
        assert_eq!(pair[1].1 - from, (pair[0].1 - from) / 2, "{filters:?}");
    }
    // The next poll (paging: more was waiting) starts where the slice ended.
    let slice_end = filters[3].1;
    assert!(
        filters.iter().skip(4).any(|(f, _)| *f == slice_end),
        "{filters:?}"
    );
    assert!(dir.total(&["--source", "hn"]) >= 3);
}

/// Reddit over OAuth: a token from the app's id and secret, the User-Agent Reddit
/// requires on every request, `before` paging from the newest post read, and the same
/// ids as the search feed (a post read both ways is one mention).
#[tokio::test(flavor = "multi_thread")]
async fn reddit_oauth_gets_a_token_sends_its_user_agent_and_pages_with_before() {
    const UA: &str = "linux:org.example.lauscher:v1.0 (by /u/acme_listening)";
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/access_token"))
        .and(header("authorization", "Basic Y2xpZW50LWlkOmNsaWVudC1zZWNyZXQ="))
        .and(header("user-agent", UA))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"access_token": "tok-1", "token_type": "bearer", "expires_in": 86400, "scope": "*"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/search"))
        .and(header("authorization", "Bearer tok-1"))
        .and(header("user-agent", UA))
        .and(query_param("before", "t3_abc124"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"kind": "Listing", "data": {"children": []}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/search"))
        .and(header("authorization", "Bearer tok-1"))
        .and(header("user-agent", UA))
        .and(query_param("q", "acme"))
        .and(query_param("sort", "new"))
        .respond_with(json("reddit/listing.json").insert_header("x-ratelimit-remaining", "99"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/search.rss"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("reddit/search.rss"), "application/atom+xml"),
        )
        .mount(&server)
        .await;
    let dir = Dir::new();
    let u = server.uri();
    dir.write_config(
        &[
            api_source(
                "reddit-api",
                "reddit",
                &format!(
                    "    url: {u}/\n    query: acme\n    client_id: client-id\n    client_secret: client-secret\n    user_agent: \"{UA}\"\n"
                ),
            ),
            api_source("reddit-rss", "reddit", &format!("    url: {u}/\n    query: acme\n")),
        ]
        .concat(),
    );
    let dir = tokio::task::spawn_blocking(move || {
        dir.run_once();
        dir.run_once();
        // Two posts through the API; the feed's one post is the API's abc123: one mention.
        assert_eq!(dir.total(&[]), 2);
        let all = dir.search(&[]).to_string();
        assert!(
            all.contains("Ich warte seit drei Tagen auf eine Antwort von Acme."),
            "{all}"
        );
        assert!(
            all.contains("https://www.reddit.com/r/de/comments/abc124/acme_kundenservice/"),
            "{all}"
        );
        dir
    })
    .await
    .expect("test thread");
    let requests = server.received_requests().await.unwrap_or_default();
    let tokens = requests
        .iter()
        .filter(|r| r.url.path() == "/api/v1/access_token")
        .count();
    assert_eq!(
        tokens, 2,
        "one token per start (two runs), kept in memory, not stored"
    );
    assert!(
        requests.iter().any(|r| r
            .url
            .query()
            .is_some_and(|q| q.contains("before=t3_abc124"))),
        "the second poll asks for what came after the newest post"
    );
    drop(dir);

    let bad = Dir::new();
    bad.write_config(&api_source(
        "r",
        "reddit",
        "    query: acme\n    client_id: x\n    client_secret: y\n    user_agent: lauscher\n",
    ));
    let out = bad
        .cmd(&["check", "--config"])
        .arg(bad.config())
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Reddit requires a User-Agent like"), "{err}");
}

/// With an API key, the comments on the channel's recent videos are read newest first
/// (the key in a header, never in a URL); `quotaExceeded` pauses comments until the
/// quota resets instead of failing the source.
#[tokio::test(flavor = "multi_thread")]
async fn youtube_comments_are_read_with_a_key_and_pause_when_the_quota_is_exceeded() {
    let server = MockServer::start().await;
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let feed = fixture("youtube/videos.xml").replace("2026-11-19T15:00:00+00:00", &yesterday);
    Mock::given(method("GET"))
        .and(path("/feeds/videos.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(feed, "application/atom+xml"))
        .mount(&server)
        .await;
    let comment = |id: &str, text: &str, at: &str| {
        serde_json::json!({"kind": "youtube#commentThread", "id": id, "snippet": {"videoId": "dQw4w9WgXcQ",
            "topLevelComment": {"id": id, "snippet": {"textDisplay": text, "textOriginal": text,
                "authorDisplayName": "@zuschauer", "publishedAt": at}}}})
    };
    Mock::given(method("GET"))
        .and(path("/youtube/v3/commentThreads"))
        .and(query_param("videoId", "dQw4w9WgXcQ"))
        .and(header("x-goog-api-key", "yt-key-123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"items": [
            comment("Ug1", "Acme App stürzt bei mir nach dem Update ab", "2026-12-05T10:00:00Z"),
            comment("Ug2", "Acme erklärt das super, danke", "2026-12-05T09:00:00Z"),
        ]})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/youtube/v3/commentThreads"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            serde_json::json!({"error": {"code": 403,
            "message": "The request cannot be completed because you have exceeded your quota.",
            "errors": [{"domain": "youtube.quota", "reason": "quotaExceeded"}]}}),
        ))
        .mount(&server)
        .await;
    let dir = Dir::new();
    let u = server.uri();
    dir.write_config(&api_source(
        "yt",
        "youtube",
        &format!("    url: {u}/\n    channel: UCabcdefghijklmnopqrstuv\n    api_key: yt-key-123\n"),
    ));
    let dir = tokio::task::spawn_blocking(move || {
        dir.run_once();
        assert_eq!(
            dir.total(&["--source", "yt"]),
            3,
            "the video and its two comments"
        );
        let all = dir.search(&[]).to_string();
        assert!(
            all.contains("Acme App stürzt bei mir nach dem Update ab"),
            "{all}"
        );
        assert!(all.contains("watch?lc=Ug1&v=dQw4w9WgXcQ"), "{all}");
        assert!(
            all.contains("\"reply_to\":\"https://www.youtube.com/watch?v=dQw4w9WgXcQ\""),
            "{all}"
        );
        let second = dir.run_once();
        assert!(!String::from_utf8_lossy(&second.stderr).contains("yt-key-123"));
        dir.run_once();
        dir
    })
    .await
    .expect("test thread");
    let requests = server.received_requests().await.unwrap_or_default();
    let calls: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/youtube/v3/commentThreads")
        .collect();
    assert_eq!(calls.len(), 2, "none after quotaExceeded until the reset");
    assert!(calls.iter().all(|r| !r.url.as_str().contains("yt-key-123")));
    assert_eq!(dir.total(&["--source", "yt"]), 3);
}

/// An instance without public preview answers 401: the source fails with the status
/// and its URL (the source-health rule treats 401 as broken), the others go on.
#[tokio::test(flavor = "multi_thread")]
async fn a_mastodon_instance_refusing_anonymous_reads_is_reported_with_its_status() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/timelines/tag/acme"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                serde_json::json!({"error": "This API requires an authenticated user"}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .respond_with(json("hackernews/newest.json"))
        .mount(&server)
        .await;
    let dir = Dir::new();
    let u = server.uri();
    dir.write_config(
        &[
            api_source(
                "masto",
                "mastodon",
                &format!("    url: {u}/\n    hashtags: [acme]\n"),
            ),
            api_source(
                "hn",
                "hackernews",
                &format!("    url: {u}/\n    query: acme\n"),
            ),
        ]
        .concat(),
    );
    tokio::task::spawn_blocking(move || {
        let out = dir.run_once();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(log.contains("HTTP 401"), "{log}");
        assert!(log.contains("/api/v1/timelines/tag/acme"), "{log}");
        assert_eq!(dir.total(&["--source", "hn"]), 2);
        assert_eq!(dir.total(&["--source", "masto"]), 0);
    })
    .await
    .expect("test thread");
}
