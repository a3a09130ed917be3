//! Parses feed files and prints one JSON line per file: its path, the entries found
//! (title and link of each) and the error, if no entry could be recovered.
//!
//! Used to compare the parser with other feed readers over a corpus of files:
//! `cargo run --release -p lauscher-crawler --example parse_feeds -- FILE...`

use chrono::Utc;
use lauscher_crawler::feed::{FeedContext, parse_feed};
use url::Url;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = Url::parse("http://feeds.example/")?;
    for path in std::env::args().skip(1) {
        let body = std::fs::read(&path)?;
        if std::env::var_os("SANITIZE").is_some() {
            debug_sanitize(&body);
        }
        let url = base.join(&path)?;
        let cx = FeedContext {
            source: "corpus",
            url: &url,
            language: None,
            fetched_at: Utc::now(),
        };
        let line = match parse_feed(&body, None, &cx) {
            Ok(parsed) => serde_json::json!({
                "path": path,
                "entries": parsed.mentions.iter().map(|m| serde_json::json!({
                    "title": m.title, "link": m.url, "text": m.text,
                })).collect::<Vec<_>>(),
            }),
            Err(e) => serde_json::json!({"path": path, "entries": [], "error": e.to_string()}),
        };
        println!("{line}");
    }
    Ok(())
}
#[allow(dead_code)]
fn debug_sanitize(body: &[u8]) {
    eprintln!("{}", lauscher_crawler::repair::sanitize(body, None));
}
