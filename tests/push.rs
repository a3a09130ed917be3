//! The push inbox: `POST /api/v1/ingest` with a push source's bearer token.

use std::sync::{Arc, Mutex};

use crate::util::Dir;

const TOKEN: &str = "push-token-0123456789";

fn push_sources() -> String {
    format!(
        "  - id: inbox\n    kind: push\n    token: {TOKEN}\n    keep_all: true\n\
         \x20 - id: signed\n    kind: push\n    token: signed-token-42\n    secret: hmac-secret\n    keep_all: true\n"
    )
}

fn line(client: usize, request: usize, n: usize) -> String {
    format!(
        "{{\"id\":\"c{client}-r{request}-m{n}\",\"text\":\"Acme Bahn Beschwerde {client} {request} {n}\",\"author\":\"kunde{client}x{request}x{n}\",\"published_at\":\"2026-11-20T10:00:00Z\"}}"
    )
}

/// Every mention acknowledged with 202 is in the index after a kill -9, pushed by
/// clients at once; bad tokens, signatures and lines are refused with what is wrong;
/// pushing again is idempotent.
#[test]
fn pushed_mentions_are_acknowledged_only_when_durable_and_survive_kill_9() {
    let dir = Dir::new();
    dir.write_config(&push_sources());
    let daemon = Arc::new(dir.start_daemon());
    let path = "/api/v1/ingest";
    let auth = format!("Bearer {TOKEN}");

    let (status, body) = daemon.post(path, &[], &line(0, 0, 0));
    assert_eq!(status, 401, "{body}");
    let (status, _) = daemon.post(path, &[("authorization", "Bearer wrong")], &line(0, 0, 0));
    assert_eq!(status, 401);
    let bad = format!("{}\n{{\"text\": 5}}\n", line(0, 0, 0));
    let (status, body) = daemon.post(path, &[("authorization", &auth)], &bad);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("line 2"), "{body}");

    // Four clients, five requests each, ten mentions a request.
    let acknowledged = Arc::new(Mutex::new(0usize));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let daemon = daemon.clone();
            let auth = auth.clone();
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || {
                for request in 0..5 {
                    let body: Vec<String> = (0..10).map(|n| line(client, request, n)).collect();
                    let (status, answer) =
                        daemon.post(path, &[("authorization", &auth)], &body.join("\n"));
                    assert_eq!(status, 202, "{answer}");
                    assert!(answer.contains("\"indexed\":10"), "{answer}");
                    *acknowledged.lock().unwrap_or_else(|p| p.into_inner()) += 10;
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client");
    }
    // The same request again: acknowledged, nothing new.
    let again: Vec<String> = (0..10).map(|n| line(0, 0, n)).collect();
    let (status, answer) = daemon.post(path, &[("authorization", &auth)], &again.join("\n"));
    assert_eq!(status, 202, "{answer}");
    assert!(answer.contains("\"duplicates\":10"), "{answer}");

    // A signing source refuses unsigned bodies and takes signed ones.
    let one = line(9, 9, 9);
    let (status, _) = daemon.post(path, &[("authorization", "Bearer signed-token-42")], &one);
    assert_eq!(status, 401);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"hmac-secret");
    let signature = format!(
        "sha256={}",
        hex::encode(aws_lc_rs::hmac::sign(&key, one.as_bytes()).as_ref())
    );
    let (status, answer) = daemon.post(
        path,
        &[
            ("authorization", "Bearer signed-token-42"),
            ("x-lauscher-signature", &signature),
        ],
        &one,
    );
    assert_eq!(status, 202, "{answer}");

    let daemon =
        Arc::try_unwrap(daemon).unwrap_or_else(|_| panic!("clients still hold the daemon"));
    daemon.kill9();
    let total = *acknowledged.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(total, 200);
    assert_eq!(dir.total(&["--source", "inbox"]), total as u64);
    assert_eq!(dir.total(&["--source", "signed"]), 1);
}
