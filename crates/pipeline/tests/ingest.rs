//! The ingest stage through its public interface: reports, dedupe, restarts.

use chrono::Utc;
use lauscher_index::SearchRequest;
use lauscher_model::{Mention, MentionId};
use lauscher_pipeline::reindex::RebuildState;
use lauscher_pipeline::{Batch, BatchReport, Pipeline};
use std::sync::Arc;

use lauscher_config::Config;
use lauscher_model::Lang;
use lauscher_query::{ActiveRules, RuleSet};
use tokio::sync::oneshot;

fn config() -> Config {
    let text = "version: 1\nindex:\n  commit_interval: 1h\n  writer_memory: 32MiB\n";
    Config::from_str_named(text, "t.yaml", &|_| None).expect("config")
}

fn rules() -> Arc<ActiveRules> {
    let text =
        "version: 1\nrules:\n  - id: acme\n    kind: brand\n    name: Acme\n    query: acme\n";
    let set = RuleSet::from_texts(&[("t.yaml".into(), text.into())], &[Lang::De, Lang::En])
        .expect("rules");
    Arc::new(ActiveRules::new(set))
}

fn mention(id: u128, text: &str) -> Mention {
    Mention {
        id: MentionId(id),
        source: "s".into(),
        url: None,
        author: None,
        published_at: Utc::now(),
        fetched_at: Utc::now(),
        title: None,
        text: text.into(),
        lang_hint: None,
        address: None,
        repost_of: None,
        reply_to: None,
    }
}

async fn send(
    p: &Pipeline,
    mentions: Vec<Mention>,
    keep_all: bool,
) -> oneshot::Receiver<BatchReport> {
    let (tx, rx) = oneshot::channel();
    p.sender()
        .send(Batch {
            source: "s".into(),
            mentions,
            checkpoint: None,
            deletes: Vec::new(),
            keep_all,
            ack: Some(tx),
        })
        .await
        .expect("send");
    rx
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_dedupe_and_filtering_and_remembers_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Pipeline::start(&config(), dir.path(), rules()).expect("start");
    let first = send(
        &p,
        vec![
            mention(
                1,
                "Acme hat heute den Zug nach Köln gestrichen, wieder einmal",
            ),
            mention(
                2,
                "RT @x: Acme hat heute den Zug nach Köln gestrichen, wieder einmal",
            ),
            mention(3, "Das Wetter in Köln ist heute sonnig und mild"),
            mention(4, "Acme!"),
            mention(5, "Acme!"),
        ],
        false,
    )
    .await;
    let second = send(
        &p,
        vec![mention(
            1,
            "Acme hat heute den Zug nach Köln gestrichen, wieder einmal",
        )],
        false,
    )
    .await;
    // Nothing is committed before the flush (the commit interval is an hour).
    assert_eq!(p.index().num_docs(), 0);
    p.flush().await.expect("flush");
    assert_eq!(
        first.await.expect("report"),
        BatchReport {
            indexed: 3,
            duplicates: 1,
            unmatched: 1
        }
    );
    assert_eq!(
        second.await.expect("report"),
        BatchReport {
            indexed: 0,
            duplicates: 1,
            unmatched: 0
        }
    );
    assert_eq!(p.index().num_docs(), 3);
    p.shutdown().await.expect("shutdown");

    // A restart remembers what was seen, and the index survives.
    let p = Pipeline::start(&config(), dir.path(), rules()).expect("restart");
    let again = send(
        &p,
        vec![mention(
            9,
            "RT @y: Acme hat heute den Zug nach Köln gestrichen, wieder einmal",
        )],
        true,
    )
    .await;
    p.flush().await.expect("flush");
    assert_eq!(again.await.expect("report").duplicates, 1);
    let page = p
        .index()
        .search(
            &SearchRequest {
                query: "köln".into(),
                ..Default::default()
            },
            None,
        )
        .expect("search");
    assert_eq!(page.total, 1);
    p.shutdown().await.expect("shutdown");
}

/// Any source runs through the same loop: an in-memory one reads its batches (following
/// `more`), and its checkpoint is stored only with the commit that holds them.
#[tokio::test(flavor = "multi_thread")]
async fn a_source_in_memory_runs_through_the_polling_loop_and_its_checkpoint_is_committed() {
    use lauscher_crawler::sources::MemorySource;
    use lauscher_pipeline::polling::Polling;
    use lauscher_pipeline::source::Source;

    let dir = tempfile::tempdir().expect("tempdir");
    let p = Pipeline::start(&config(), dir.path(), rules()).expect("start");
    let crawler = crawler();
    let source = Box::new(Polling {
        poller: Box::new(MemorySource {
            batches: vec![
                vec![mention(1, "Acme eins"), mention(2, "Acme zwei")],
                vec![mention(3, "Acme drei")],
            ],
        }),
        crawler,
    });
    let cx = once(&p, "");
    source.run(cx).await.expect("run");
    p.flush().await.expect("flush");
    assert_eq!(
        p.index()
            .search(&SearchRequest::default(), None)
            .expect("search")
            .total,
        3
    );
    let checkpoint = p.state().checkpoint("s").expect("state").map(|c| c.0);
    assert_eq!(checkpoint.as_deref(), Some("2"));
}

/// A source that says more is waiting but does not move its checkpoint (a server that
/// ignores paging) is not polled again at once.
#[tokio::test(flavor = "multi_thread")]
async fn more_without_progress_does_not_spin() {
    use lauscher_crawler::{BoxFuture, Crawler, FetchError, Poll, Poller};
    use lauscher_pipeline::polling::Polling;
    use lauscher_pipeline::source::Source;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Stuck(Arc<AtomicUsize>);
    impl Poller for Stuck {
        fn poll<'a>(
            &'a self,
            _: &'a Crawler,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Poll, FetchError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {
                Ok(Poll {
                    mentions: vec![mention(7, "Acme again")],
                    checkpoint: Some("same".into()),
                    more: true,
                    ..Poll::default()
                })
            })
        }
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let p = Pipeline::start(&config(), dir.path(), rules()).expect("start");
    let crawler = crawler();
    let polls = Arc::new(AtomicUsize::new(0));
    let cx = once(&p, "same");
    let source = Box::new(Polling {
        poller: Box::new(Stuck(polls.clone())),
        crawler,
    });
    tokio::time::timeout(std::time::Duration::from_secs(10), source.run(cx))
        .await
        .expect("returns")
        .expect("run");
    assert_eq!(polls.load(Ordering::SeqCst), 1);
}

/// The HTTP machinery a polling source is run with (these sources make no request).
fn crawler() -> Arc<lauscher_crawler::Crawler> {
    let http = lauscher_crawler::HttpFetcher::new(&lauscher_crawler::HttpSettings {
        user_agent: "test".into(),
        body_limit: 1 << 20,
        max_redirects: 3,
        timeout: std::time::Duration::from_secs(5),
        connect_timeout: std::time::Duration::from_secs(5),
        allow_private: false,
    })
    .expect("http");
    Arc::new(lauscher_crawler::Crawler {
        http,
        private_http: None,
        robots: None,
        throttle: lauscher_crawler::HostThrottle::new(),
        host_interval: std::time::Duration::ZERO,
    })
}

/// The context of source `s`, read once from `checkpoint` into `p`.
fn once(p: &Pipeline, checkpoint: &str) -> lauscher_pipeline::source::SourceContext {
    let config = Config::from_str_named(
        "version: 1\ncrawler:\n  contact: https://example.org/\nsources:\n  - {id: s, kind: feed, url: https://example.org/feed}\n",
        "t.yaml",
        &|_| None,
    )
    .expect("config")
    .sources
    .remove(0);
    lauscher_pipeline::source::SourceContext {
        config,
        checkpoint: checkpoint.to_owned(),
        sender: p.sender(),
        cancel: tokio_util::sync::CancellationToken::new(),
        observer: None,
        backoff: (
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(2),
        ),
        once: true,
    }
}

/// An online rebuild while mentions keep coming in and some are deleted: the new index
/// holds every mention exactly once (the snapshot's and those added meanwhile), not the
/// deleted ones, searches answer throughout, and the pipeline keeps writing after the
/// swap.
#[tokio::test(flavor = "multi_thread")]
async fn an_online_rebuild_keeps_every_mention_added_meanwhile_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Pipeline::start(&config(), dir.path(), rules()).expect("start");
    let text = |i: u128| format!("Acme Beschwerde Nummer {i}: der Zug {i} fällt aus");
    let snapshot: Vec<Mention> = (1..=3000).map(|i| mention(i, &text(i))).collect();
    for chunk in snapshot.chunks(500) {
        drop(send(&p, chunk.to_vec(), true).await);
    }
    p.flush().await.expect("flush");
    let index = p.index();
    assert_eq!(index.num_docs(), 3000);
    let rebuilder = p.rebuilder();
    assert!(rebuilder.start());
    assert!(!rebuilder.start(), "one rebuild at a time");
    // Keep writing while it runs: new mentions, and deletes of snapshot mentions.
    let mut next = 10_000u128;
    let mut deleted = Vec::new();
    let mut rounds = 0;
    while rebuilder.status().state == RebuildState::Running || rounds < 3 {
        let batch: Vec<Mention> = (next..next + 20).map(|i| mention(i, &text(i))).collect();
        next += 20;
        let gone = MentionId(1 + rounds as u128 * 7);
        deleted.push(gone);
        p.sender()
            .send(Batch {
                source: "s".into(),
                mentions: batch,
                checkpoint: None,
                deletes: vec![gone],
                keep_all: true,
                ack: None,
            })
            .await
            .expect("send");
        // Searches answer throughout.
        index
            .search(&SearchRequest::default(), None)
            .expect("search during the rebuild");
        rounds += 1;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(
            rounds < 3000,
            "rebuild did not end: {:?}",
            rebuilder.status()
        );
    }
    let status = rebuilder.status();
    assert_eq!(status.state, RebuildState::Done, "{status:?}");
    // The snapshot is the commit the rebuild found: the 3000 and maybe a batch more.
    assert_eq!(status.done, status.total, "{status:?}");
    assert!(status.done >= 3000 - deleted.len() as u64, "{status:?}");
    // After the swap the pipeline writes into the new index.
    drop(send(&p, vec![mention(99_999, &text(99_999))], true).await);
    p.flush().await.expect("flush");
    let added = (next - 10_000) as u64;
    assert_eq!(index.num_docs(), 3000 + added + 1 - deleted.len() as u64);
    assert!(dir.path().join("index.previous").is_dir());
    for id in [
        MentionId(2),
        MentionId(10_000),
        MentionId(next - 1),
        MentionId(99_999),
    ] {
        assert!(index.get(id).expect("get").is_some(), "{id:?}");
    }
    for id in &deleted {
        assert!(index.get(*id).expect("get").is_none(), "{id:?} deleted");
    }
    drop((index, rebuilder));
    p.shutdown().await.expect("shutdown");
    // And it all survives a restart.
    let p = Pipeline::start(&config(), dir.path(), rules()).expect("restart");
    assert_eq!(
        p.index().num_docs(),
        3000 + added + 1 - deleted.len() as u64
    );
    p.shutdown().await.expect("shutdown");
}
