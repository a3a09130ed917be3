//! The test harness: a temporary directory with a config, and the binary to run in it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The tests' topic rules: a brand and a competitor.
pub const TOPICS: &str = "version: 1
rules:
  - id: acme
    kind: brand
    name: Acme
    query: acme OR \"acme bahn\"
    examples:
      match: [\"Acme Bahn again\"]
  - id: blitzbus
    kind: competitor
    name: Blitzbus
    query: blitzbus
";

/// A temporary working directory with a data directory and a config file.
pub struct Dir {
    root: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            root: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    pub fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }

    pub fn config(&self) -> PathBuf {
        self.root.path().join("lauscher.yaml")
    }

    /// Writes the config: `sources` is YAML for the `sources:` list (indented by 2).
    pub fn write_config(&self, sources: &str) {
        self.write_config_with(sources, "");
    }

    /// Like `write_config`, with extra `crawler:` keys (indented by 2).
    pub fn write_config_with(&self, sources: &str, crawler_extra: &str) {
        let text = format!(
            "version: 1
languages: [de, en]
crawler:
  contact: https://example.org/test
  host_interval: 10ms
  backoff_min: 1s
  backoff_max: 2s
{crawler_extra}index:
  commit_interval: 200ms
  writer_memory: 32MiB
sources:
{sources}rules: [topics.yaml]
"
        );
        std::fs::write(self.config(), text).expect("write config");
        if !self.path().join("topics.yaml").exists() {
            self.write_rules(TOPICS);
        }
    }

    /// Writes the topic rules the config names (`topics.yaml`).
    pub fn write_rules(&self, text: &str) -> PathBuf {
        self.write("topics.yaml", text)
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.root.path().join(name);
        std::fs::write(&p, contents).expect("write file");
        p
    }

    /// Returns a command for the binary with `args`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lauscher"));
        c.args(args)
            .current_dir(self.path())
            .env_remove("LAUSCHER_CONFIG")
            .env_remove("LAUSCHER_DATA_DIR");
        c
    }

    /// `lauscher run --once` with this dir's config and data; returns the output.
    pub fn run_once(&self) -> Output {
        succeed(
            self.cmd(&["run", "--once", "--listen", "127.0.0.1:0"])
                .arg("--config")
                .arg(self.config())
                .arg("--data-dir")
                .arg(self.data()),
        )
    }

    /// `lauscher import --json FILE` with this dir's config and data; returns the summary.
    pub fn import(&self, file: &Path) -> Value {
        self.import_with(file, &[])
    }

    /// [`import`](Self::import) with extra arguments (`--keep-all`, `--source S`).
    pub fn import_with(&self, file: &Path, args: &[&str]) -> Value {
        let out = succeed(
            self.cmd(&["import", "--json", "--config"])
                .arg(self.config())
                .arg("--data-dir")
                .arg(self.data())
                .args(args)
                .arg(file),
        );
        serde_json::from_slice(&out.stdout).expect("json summary")
    }

    /// `lauscher search --json` with extra args, with this dir's config and data.
    fn search_cmd(&self, args: &[&str]) -> Command {
        let mut c = self.cmd(&["search", "--json", "--limit", "1000"]);
        c.args(args)
            .arg("--config")
            .arg(self.config())
            .arg("--data-dir")
            .arg(self.data());
        c
    }

    /// `lauscher search --json` with extra args; returns the parsed page.
    pub fn search(&self, args: &[&str]) -> Value {
        let out = succeed(&mut self.search_cmd(args));
        serde_json::from_slice(&out.stdout).expect("search prints JSON")
    }

    pub fn total(&self, args: &[&str]) -> u64 {
        self.search(args)["total"].as_u64().expect("total")
    }

    /// Every mention's count, `None` while the search fails (no index yet).
    pub fn try_total(&self) -> Option<u64> {
        let out = self.search_cmd(&[]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice::<Value>(&out.stdout).ok()?["total"].as_u64()
    }

    /// Starts the daemon; returns it once the API answers.
    pub fn start_daemon(&self) -> Daemon {
        let mut child = self
            .cmd(&["run", "--listen", "127.0.0.1:0"])
            .arg("--config")
            .arg(self.config())
            .arg("--data-dir")
            .arg(self.data())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start daemon");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.strip_prefix("lauscher: api listening on ") {
                        break rest.trim().to_owned();
                    }
                }
                _ => {
                    let _ = child.kill();
                    let out = child.wait_with_output().expect("daemon output");
                    panic!(
                        "daemon exited early:\n{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Daemon {
            child: Some(child),
            base: addr,
        }
    }
}

/// Runs `cmd`, asserting it succeeds (showing its stderr when not).
fn succeed(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run lauscher");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A running daemon; killed on drop.
pub struct Daemon {
    child: Option<Child>,
    pub base: String,
}

impl Daemon {
    pub fn get(&self, path: &str) -> (u16, String) {
        answer(reqwest::Client::new().get(format!("{}{path}", self.base)))
    }

    /// POSTs `body` to `path` with `headers`; returns the status and body.
    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
        let mut req = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .body(body.to_owned());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        answer(req)
    }

    pub fn get_json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).expect("json")
    }

    /// Polls `GET /api/v1/search` until `pred` holds on the page, or panics after 20 s.
    pub fn wait_for(&self, query: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let page = self.get_json(&format!("/api/v1/search?{query}"));
            if pred(&page) {
                return page;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting; last page: {page}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends SIGTERM and waits; returns stderr.
    pub fn terminate(mut self) -> (bool, String) {
        let mut child = self.child.take().expect("child");
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let out = wait_with_timeout(&mut child, Duration::from_secs(20));
        (out.0, out.1)
    }

    /// Sends SIGKILL (kill -9) and waits.
    pub fn kill9(mut self) {
        let mut child = self.child.take().expect("child");
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Sends `req` on a runtime of its own (the harness is synchronous); the status and body.
fn answer(req: reqwest::RequestBuilder) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let resp = req.send().await.expect("api request");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    })
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> (bool, String) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return (status.success(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("daemon did not stop within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Reads a fixture from `tests/fixtures/`.
pub fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A 200 response serving a fixture feed (Atom when the name says so, else RSS).
pub fn feed(name: &str) -> ResponseTemplate {
    let ctype = if name.contains("atom") {
        "application/atom+xml"
    } else {
        "application/rss+xml"
    };
    ResponseTemplate::new(200).set_body_raw(fixture(name), ctype)
}

/// Answers GET `route` with `response` (only the first `times` requests, if given).
pub async fn serve(
    server: &MockServer,
    route: &str,
    response: ResponseTemplate,
    times: Option<u64>,
) {
    let mock = Mock::given(method("GET"))
        .and(path(route))
        .respond_with(response);
    let mock = match times {
        Some(n) => mock.up_to_n_times(n),
        None => mock,
    };
    mock.mount(server).await;
}

/// A source entry for the config.
pub fn source(id: &str, url: &str) -> String {
    format!(
        "  - id: {id}\n    kind: feed\n    url: {url}\n    interval: 1s\n    allow_private: true\n"
    )
}

/// Texts of all hits.
pub fn texts(page: &Value) -> Vec<String> {
    page["hits"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h["text"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A mail server on 127.0.0.1 that accepts everything and keeps each message's DATA.
/// Just enough SMTP for a client: greeting, EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
pub struct SmtpSink {
    pub port: u16,
    messages: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind smtp sink");
        let port = listener.local_addr().expect("addr").port();
        let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let store = messages.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut data: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(body) = &mut data {
                            if line == "." {
                                if let Ok(mut m) = store.lock() {
                                    m.push(std::mem::take(body));
                                }
                                data = None;
                                let _ = write.write_all(b"250 2.0.0 queued\r\n").await;
                            } else {
                                body.push_str(line.strip_prefix('.').unwrap_or(&line));
                                body.push('\n');
                            }
                            continue;
                        }
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" | "HELO" => b"250 sink\r\n",
                            "DATA" => {
                                data = Some(String::new());
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"250 OK\r\n",
                        };
                        let _ = write.write_all(reply).await;
                    }
                });
            }
        });
        SmtpSink { port, messages }
    }

    /// The messages received so far, raw.
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }
}
