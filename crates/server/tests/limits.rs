//! The API's limits, on a real listener with small limits: long query strings, large
//! bodies, a full server and a client too slow to send its headers (issue 18,
//! hardening: slow clients cannot hold the server).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use lauscher_index::MentionIndex;
use lauscher_model::Lang;
use lauscher_pipeline::explain::Explainer;
use lauscher_query::{ActiveRules, RuleSet};
use lauscher_server::{ApiLimits, ApiState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

struct Api {
    addr: std::net::SocketAddr,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Api {
    /// Asserts the server still answers, then stops it.
    async fn assert_healthy(self) {
        let ok = raw(self.addr, HEALTHZ).await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        self.cancel.cancel();
    }
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

async fn start(limits: ApiLimits) -> Api {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = MentionIndex::open(dir.path(), &[Lang::De, Lang::En]).expect("index");
    let rules = RuleSet::from_texts(&[], &[Lang::De, Lang::En]).expect("empty rule set");
    let rules = Arc::new(ActiveRules::new(rules));
    let config = lauscher_config::Config::from_str_named("version: 1\n", "t.yaml", &|_| None)
        .expect("config");
    let state = ApiState {
        index: Arc::new(index),
        ready: Arc::new(AtomicBool::new(true)),
        explainer: Explainer::for_config(&config),
        rules,
        reload: Arc::new(|| {
            // Holds the request long enough for the in-flight and timeout tests.
            std::thread::park_timeout(Duration::from_millis(600));
            Ok("reloaded".into())
        }),
        alerts: None,
        desk: None,
        tokens: None,
        timezone: chrono_tz::Europe::Berlin,
        push: None,
        retention_days: None,
        rebuild: None,
    };
    let (listener, addr) = lauscher_server::bind(([127, 0, 0, 1], 0).into())
        .await
        .expect("bind");
    let cancel = CancellationToken::new();
    tokio::spawn(lauscher_server::serve(
        listener,
        state,
        limits,
        cancel.clone(),
    ));
    Api {
        addr,
        cancel,
        _dir: dir,
    }
}

/// Sends `request` as it is and returns the status line and the rest of the answer.
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn small() -> ApiLimits {
    ApiLimits {
        max_body: 1024,
        max_push_body: 4096,
        max_query: 256,
        max_in_flight: 1,
        request_timeout: Duration::from_millis(300),
        header_timeout: Duration::from_millis(300),
        max_connections: 16,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn long_queries_and_large_bodies_are_refused() {
    let api = start(small()).await;
    let long = format!(
        "GET /api/v1/search?q={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(300)
    );
    assert!(
        raw(api.addr, long.as_bytes())
            .await
            .starts_with("HTTP/1.1 414")
    );
    let body = "x".repeat(4096);
    let post = format!(
        "POST /api/v1/silences HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = raw(api.addr, post.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    api.assert_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_server_answers_503_at_once_and_slow_requests_are_cut_off() {
    let api = start(small()).await;
    let reload = b"POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let first = tokio::spawn(raw(api.addr, reload));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let busy = raw(api.addr, HEALTHZ).await;
    assert!(busy.starts_with("HTTP/1.1 503"), "{busy}");
    assert!(busy.to_lowercase().contains("retry-after: 1"), "{busy}");
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "answered at once"
    );
    let timed_out = first.await.expect("first request");
    assert!(timed_out.starts_with("HTTP/1.1 503"), "{timed_out}");
    assert!(timed_out.contains("longer than"), "{timed_out}");
    api.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let api = start(small()).await;
    let mut slow = TcpStream::connect(api.addr).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(3), slow.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "closed after the header timeout");
    api.assert_healthy().await;
}
