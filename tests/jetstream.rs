//! Bluesky through Jetstream: a local WebSocket server that drops the connection
//! mid-stream and replays from the cursor the daemon reconnects with.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::SinkExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

use crate::util::Dir;

const T0: i64 = 1_763_632_800_000_000;

fn create(did: &str, rkey: &str, t: i64, text: &str) -> String {
    let reply = (rkey == "d1").then(|| {
        serde_json::json!({"root": {"uri": "at://did:plc:cem/app.bsky.feed.post/c1", "cid": "x"},
            "parent": {"uri": "at://did:plc:cem/app.bsky.feed.post/c1", "cid": "x"}})
    });
    serde_json::json!({
        "did": did, "time_us": t, "kind": "commit",
        "commit": {"rev": "x", "operation": "create", "collection": "app.bsky.feed.post",
            "rkey": rkey, "cid": "bafy",
            "record": {"$type": "app.bsky.feed.post", "text": text,
                "createdAt": "2026-11-20T10:00:00.000Z", "langs": ["de"], "reply": reply}}
    })
    .to_string()
}

fn delete(did: &str, rkey: &str, t: i64) -> String {
    serde_json::json!({
        "did": did, "time_us": t, "kind": "commit",
        "commit": {"rev": "y", "operation": "delete", "collection": "app.bsky.feed.post", "rkey": rkey}
    })
    .to_string()
}

/// Posts stream in, a dropped connection resumes from the cursor rewound five
/// seconds without losing or doubling a post, and a delete removes its post.
#[test]
// The handshake callback's error type is tungstenite's, a whole HTTP response.
#[allow(clippy::result_large_err)]
fn jetstream_resumes_from_its_cursor_and_deletes_remove_posts() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let cursors: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let seen = cursors.clone();
    rt.spawn(async move {
        let mut connection = 0;
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            connection += 1;
            let seen = seen.clone();
            let record = move |req: &Request, resp: Response| {
                let cursor = req.uri().query().and_then(|q| {
                    q.split('&')
                        .find_map(|p| p.strip_prefix("cursor=").map(str::to_owned))
                });
                seen.lock().unwrap_or_else(|p| p.into_inner()).push(cursor);
                Ok(resp)
            };
            let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, record).await else {
                continue;
            };
            let events = if connection == 1 {
                vec![
                    create(
                        "did:plc:ana",
                        "a1",
                        T0 + 100,
                        "Die Acme App stürzt schon wieder ab",
                    ),
                    create(
                        "did:plc:bob",
                        "b1",
                        T0 + 200,
                        "Acme Support war heute super",
                    ),
                    create(
                        "did:plc:cem",
                        "c1",
                        T0 + 300,
                        "Acme Bahn ist pünktlich, ein Wunder",
                    ),
                ]
            } else {
                vec![
                    create(
                        "did:plc:bob",
                        "b1",
                        T0 + 200,
                        "Acme Support war heute super",
                    ),
                    create(
                        "did:plc:cem",
                        "c1",
                        T0 + 300,
                        "Acme Bahn ist pünktlich, ein Wunder",
                    ),
                    delete("did:plc:ana", "a1", T0 + 400),
                    create(
                        "did:plc:dan",
                        "d1",
                        T0 + 500,
                        "Acme Rechnung doppelt abgebucht",
                    ),
                ]
            };
            for e in events {
                if ws.send(Message::text(e)).await.is_err() {
                    break;
                }
            }
            if connection == 1 {
                // Mid-stream: the connection drops without a closing handshake.
                let _ = ws.flush().await;
                tokio::time::sleep(Duration::from_millis(1500)).await;
                drop(ws);
            } else {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        }
    });
    let dir = Dir::new();
    dir.write_config(&format!(
        "  - id: bsky\n    kind: jetstream\n    url: ws://127.0.0.1:{port}/subscribe\n    allow_private: true\n"
    ));
    let daemon = dir.start_daemon();
    let page = daemon.wait_for("source=bsky&limit=100", |p| {
        p.to_string().contains("Acme Rechnung doppelt abgebucht") && p["total"] == 3
    });
    let all = page.to_string();
    assert!(
        !all.contains("stürzt schon wieder ab"),
        "the deleted post is gone: {all}"
    );
    assert!(
        all.contains("https://bsky.app/profile/did:plc:bob/post/b1"),
        "{all}"
    );
    assert!(
        all.contains("\"reply_to\":\"at://did:plc:cem/app.bsky.feed.post/c1\""),
        "{all}"
    );
    let cursors = cursors.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(cursors[0], None, "the first connection starts live");
    assert_eq!(
        cursors[1].as_deref(),
        Some((T0 + 300 - 5_000_000).to_string().as_str()),
        "the reconnect asks from the last event read, five seconds back"
    );
    daemon.kill9();
    assert_eq!(dir.total(&["--source", "bsky"]), 3);
}

/// With keywords, only posts containing one are kept, and their authors' handles and
/// follower counts come from a profile lookup (the test server answers both the
/// stream and `getProfile`).
#[test]
fn jetstream_keywords_filter_posts_and_profiles_give_reach() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let lookups = Arc::new(Mutex::new(0usize));
    let counted = lookups.clone();
    rt.spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else { return };
            let mut head = [0u8; 16];
            let n = tcp.peek(&mut head).await.unwrap_or(0);
            if head[..n].starts_with(b"GET /xrpc") {
                *counted.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                let mut request = vec![0u8; 4096];
                let _ = tcp.read(&mut request).await;
                let body = r#"{"did":"did:plc:ana","handle":"ana.bsky.social","followersCount":4200}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(answer.as_bytes()).await;
                continue;
            }
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else { return };
                for e in [
                    create("did:plc:ana", "a1", T0 + 100, "Die ACME App stürzt ab"),
                    create("did:plc:bob", "b1", T0 + 200, "Schönes Wetter heute"),
                    create("did:plc:ana", "a2", T0 + 300, "Acme antwortet nicht"),
                ] {
                    let _ = ws.send(Message::text(e)).await;
                }
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    let dir = Dir::new();
    dir.write_config(&format!(
        "  - id: bsky\n    kind: jetstream\n    url: ws://127.0.0.1:{port}/subscribe\n    query: acme\n    keep_all: true\n    allow_private: true\n"
    ));
    let daemon = dir.start_daemon();
    let page = daemon.wait_for("source=bsky&limit=100", |p| p["total"] == 2);
    let all = page.to_string();
    assert!(!all.contains("Wetter"), "{all}");
    assert!(all.contains("ana.bsky.social"), "{all}");
    assert!(all.contains("4200"), "{all}");
    assert_eq!(
        *lookups.lock().unwrap_or_else(|p| p.into_inner()),
        1,
        "one lookup per author a day"
    );
    daemon.kill9();
}
