//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Lauscher: self-hosted social listening and sentiment monitoring.
///
/// Crawls feeds, analyses mentions (language, sentiment, topics), indexes them and
/// serves search and metrics over HTTP. Start with `lauscher demo`.
#[derive(Debug, Parser)]
#[command(name = "lauscher", version, propagate_version = true)]
pub struct Cli {
    /// Log filter (e.g. `info`, `lauscher=debug`); default `info` for `run`/`demo`, `warn` otherwise.
    #[arg(long, global = true, env = "LAUSCHER_LOG")]
    pub log: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: crawl sources, analyse, index and serve the HTTP API.
    ///
    /// Stops gracefully on SIGINT/SIGTERM: polling stops, queued mentions are
    /// committed, cursors are saved.
    Run(RunArgs),
    /// Replay a bundled sample stream through the real pipeline, offline.
    ///
    /// Starts a feed server on 127.0.0.1 with sample posts (German and English, about
    /// fictional brands), ingests them into a temporary data directory, prints a
    /// summary and serves the API until Ctrl-C.
    Demo(DemoArgs),
    /// Push mentions from a JSON Lines file through the pipeline.
    ///
    /// One JSON object per line with `text`, `url` or `id`, `published_at` (RFC 3339 or
    /// unix seconds), and optionally `source`, `author`, `followers`, `lang`, `title`.
    /// Malformed lines are reported by line number and skipped.
    Import(ImportArgs),
    /// Rebuild the index from its own stored mentions with the current layout, scorer
    /// and rules (after an upgrade, a lexicon change or new rules).
    ///
    /// Builds the new index beside the old one with a progress bar, then swaps them;
    /// the old one is kept as `index.previous/`. Stop the daemon first: the old index's
    /// writer lock is held throughout.
    Reindex(ReindexArgs),
    /// Search the index, newest first. Works while the daemon runs.
    Search(SearchArgs),
    /// Validate the configuration and the topic rules, and run every rule's examples.
    ///
    /// Errors name file, line and column; a failing example shows its text and the
    /// clauses that decided. Exits 1 on any problem.
    Check(CheckArgs),
    /// Score text: language, sentiment, intent and the cues behind them.
    ///
    /// With TEXT `-`, reads one post per line from standard input and prints one line
    /// (or one JSON object) per post.
    Score(ScoreArgs),
    /// Measure the scorer on labeled posts (TSV with columns id, lang, label, text).
    ///
    /// Prints n, accuracy, macro-F1, per-class precision/recall/F1 and the confusion
    /// matrix, overall and per language, and posts/s. Bad rows are reported by line and
    /// skipped.
    Eval(EvalArgs),
    /// Replay alert rules over the indexed history and list the incidents they would
    /// have opened (start, level, numbers), to tune thresholds before going live.
    Backtest(BacktestArgs),
    /// List, show, acknowledge and resolve incidents of the running daemon.
    Incidents(IncidentsArgs),
    /// List, add and expire silences of the running daemon.
    Silences(SilencesArgs),
    /// API tokens with roles (viewer, agent, admin): once one exists, the API needs one.
    Token(TokenArgs),
    /// The service desk of the running daemon: the queue of complaints and questions,
    /// agents' actions on items, and service KPIs.
    Desk(DeskArgs),
    /// Timelines, share of voice and top lists from the index (the API's
    /// `/api/v1/insights/...` computed locally): an aligned table, `--json` or `--csv`.
    Insights(InsightsArgs),
    /// Write the weekly digest (share of voice, biggest movers, recurring and new
    /// complaint topics with samples, daily volume) as Markdown or self-contained HTML.
    Report(ReportArgs),
}

/// Where the config and data live.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The configuration file.
    #[arg(
        long,
        short,
        env = "LAUSCHER_CONFIG",
        default_value = "rules/lauscher.yaml"
    )]
    pub config: PathBuf,
}

/// The data directory.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Directory for the index and the state store.
    #[arg(long, env = "LAUSCHER_DATA_DIR", default_value = "lauscher-data")]
    pub data_dir: PathBuf,
}

/// `lauscher run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// Listen address for the API (overrides `server.listen`).
    #[arg(long, env = "LAUSCHER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Poll every source once, commit, and exit (for cron-style runs and tests).
    #[arg(long)]
    pub once: bool,
}

/// `lauscher demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Exit after the sample is ingested, printing the summary.
    #[arg(long)]
    pub once: bool,
    /// Port for the API on 127.0.0.1.
    #[arg(long, default_value_t = 7700)]
    pub port: u16,
}

/// `lauscher import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The JSON Lines file (`-` for standard input).
    pub file: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// Source id for lines without a `source`.
    #[arg(long, default_value = "import")]
    pub source: String,
    /// Index mentions that match no topic too.
    #[arg(long)]
    pub keep_all: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `lauscher search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Query: words (all must match; stemmed families match too), "phrases", OR, -word.
    #[arg(default_value = "")]
    pub query: String,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Most hits to print.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// `reposts`: leave reposts out and show how often each hit was reposted.
    #[arg(long)]
    pub collapse: Option<lauscher_index::Collapse>,
    /// Only mentions with any of these phrases, comma-separated (stemmed keys, as
    /// `lauscher insights complaints` lists them).
    #[arg(long)]
    pub phrase: Option<String>,
    /// Print JSON (one object with `total` and `hits`).
    #[arg(long)]
    pub json: bool,
}

/// The filters of search and insights, as `/api/v1/search` takes them.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Only mentions the topic rule with this id matches, evaluated now over the whole
    /// history (retro-search); reads the rules named in the config.
    #[arg(long)]
    pub rule: Option<String>,
    /// Only mentions published since: an age (`30m`, `24h`, `7d`), RFC 3339 time or date
    /// (insights: default 7 days ago).
    #[arg(long)]
    pub since: Option<String>,
    /// Only mentions published before: an age, RFC 3339 time or date.
    #[arg(long)]
    pub until: Option<String>,
    /// Only mentions of this topic id (insights: several, comma-separated).
    #[arg(long)]
    pub topic: Option<String>,
    /// Only mentions in this language (`de`, `en`, `und`).
    #[arg(long)]
    pub lang: Option<String>,
    /// Only mentions from this source id.
    #[arg(long)]
    pub source: Option<String>,
    /// Only mentions with this sentiment label (negative, neutral, positive).
    #[arg(long)]
    pub label: Option<lauscher_model::Label>,
    /// Only mentions with this intent (complaint, question, praise, other).
    #[arg(long)]
    pub intent: Option<lauscher_model::Intent>,
}

/// `lauscher reindex`.
#[derive(Debug, Args)]
pub struct ReindexArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// The running daemon's API, asked to rebuild online when it holds the index
    /// (default: `server.listen` of the config).
    #[arg(long, env = "LAUSCHER_API")]
    pub api: Option<String>,
}

/// `lauscher check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Rule files or directories to check instead of the config's `rules:`; without a
    /// config file, the languages default to de and en.
    #[arg(long, num_args = 1..)]
    pub rules: Vec<PathBuf>,
    /// Where the daemon keeps its state: streams that paged more often than their
    /// budget in the last 90 days are warned about.
    #[command(flatten)]
    pub data: DataArgs,
}

/// Where scoring settings come from: the config's languages, neutral bands and user
/// lexicons when the file exists, else German and English with the defaults.
#[derive(Debug, Args)]
pub struct ScoringArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Score as this language instead of detecting it (`de`, `en`).
    #[arg(long)]
    pub lang: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `lauscher score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The text to score; `-` reads one post per line from standard input.
    pub text: String,
    #[command(flatten)]
    pub scoring: ScoringArgs,
}

/// `lauscher eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The labeled TSV file (`-` for standard input).
    #[arg(required_unless_present = "corrections")]
    pub file: Option<PathBuf>,
    /// Evaluate on the posts agents corrected in the service desk instead (read from the
    /// data directory's state store and index), and propose user-lexicon entries.
    #[arg(long, conflicts_with = "file")]
    pub corrections: bool,
    /// The data directory (with `--corrections`).
    #[arg(long, env = "LAUSCHER_DATA_DIR", default_value = "lauscher-data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub scoring: ScoringArgs,
    /// Also print up to this many misclassified posts with their explanations.
    #[arg(long, default_value_t = 0)]
    pub mistakes: usize,
}

/// `lauscher insights`.
#[derive(Debug, Args)]
pub struct InsightsArgs {
    /// The view: complaints, timeline, sov (share of voice) or top.
    pub view: lauscher_insights::View,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Timeline interval: 5m … 12h, 1d, 1w. Default 1h up to 3 days, else 1d.
    #[arg(long)]
    pub interval: Option<String>,
    /// Time zone of timeline buckets. Default: the alerting file's, else Europe/Berlin.
    #[arg(long)]
    pub tz: Option<lauscher_config::TimeZone>,
    /// Entries per list (default 10; complaints 20).
    #[arg(long)]
    pub n: Option<usize>,
    /// Complaints: weeks looked back for recurrence (default 6).
    #[arg(long)]
    pub weeks: Option<usize>,
    /// Complaints: a week's top list length (default 20).
    #[arg(long)]
    pub rank: Option<usize>,
    /// Complaints: weeks in the top list that make a phrase recurring (default 3).
    #[arg(long)]
    pub recur: Option<usize>,
    /// Print JSON (what the API answers).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV.
    #[arg(long)]
    pub csv: bool,
}

/// `lauscher report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// The ISO week (`2026-W47`). Default: the last complete week.
    #[arg(long)]
    pub week: Option<String>,
    /// `md` or `html` (one file, inline SVG charts, no external assets).
    #[arg(long, default_value = "md")]
    pub format: lauscher_insights::Format,
    /// Time zone of the week and its days. Default: the alerting file's, else
    /// Europe/Berlin.
    #[arg(long)]
    pub tz: Option<lauscher_config::TimeZone>,
    /// Language of the report: `de` or `en`. Default: the alerting file's, else en.
    #[arg(long)]
    pub lang: Option<lauscher_config::ReportLanguage>,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// `lauscher backtest`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// Only this alert rule.
    #[arg(long)]
    pub rule: Option<String>,
    /// Start of the replay: an age (`90d`), RFC 3339 time or date; the 8 weeks before
    /// warm the baselines.
    #[arg(long, default_value = "90d")]
    pub since: String,
    /// End of the replay (default now).
    #[arg(long)]
    pub until: Option<String>,
    /// Print JSON: incidents with their numbers and the notifications routing would
    /// have sent.
    #[arg(long)]
    pub json: bool,
}

/// `lauscher incidents`.
#[derive(Debug, Args)]
pub struct IncidentsArgs {
    #[command(subcommand)]
    pub command: IncidentsCommand,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The API's base URL (default: `server.listen` of the config).
    #[arg(long, env = "LAUSCHER_API", global = true)]
    pub api: Option<String>,
    /// Print JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Incident subcommands.
#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// Newest first.
    List {
        /// Only firing, acknowledged or resolved ones.
        #[arg(long)]
        status: Option<String>,
    },
    /// One incident with its timeline and notifications.
    Show {
        /// The incident id.
        id: i64,
    },
    /// Acknowledge: stops re-notification and escalation.
    Ack {
        /// The incident id.
        id: i64,
        /// Who (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Resolve by hand; it stays resolved until the stream has been quiet.
    Resolve {
        /// The incident id.
        id: i64,
        /// Who (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

/// `lauscher silences`.
#[derive(Debug, Args)]
pub struct SilencesArgs {
    #[command(subcommand)]
    pub command: SilencesCommand,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The API's base URL (default: `server.listen` of the config).
    #[arg(long, env = "LAUSCHER_API", global = true)]
    pub api: Option<String>,
}

/// Silence subcommands.
#[derive(Debug, Subcommand)]
pub enum SilencesCommand {
    /// Silences in force or upcoming.
    List,
    /// Silence matching incidents for a while (they still open and record).
    Add {
        /// Matchers like `topic="acme"` (all must hold).
        #[arg(required = true)]
        matchers: Vec<String>,
        /// For how long (`2h`).
        #[arg(long, default_value = "2h")]
        duration: String,
        /// Why.
        #[arg(long)]
        comment: Option<String>,
        /// Who (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// End a silence now.
    Expire {
        /// The silence id.
        id: i64,
    },
}

/// `lauscher desk`.
#[derive(Debug, Args)]
pub struct DeskArgs {
    #[command(subcommand)]
    pub command: DeskCommand,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The API's base URL (default: `server.listen` of the config).
    #[arg(long, env = "LAUSCHER_API", global = true)]
    pub api: Option<String>,
    /// Who acts (default: $USER).
    #[arg(long, global = true)]
    pub by: Option<String>,
    /// Refuse the action if the item changed since this version (what `show` printed).
    #[arg(long, global = true)]
    pub if_version: Option<u32>,
    /// Print JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Desk subcommands; item actions take one or more item ids.
#[derive(Debug, Subcommand)]
pub enum DeskCommand {
    /// The queue, most urgent SLA first.
    List {
        /// States, comma-separated (default new,open,pending).
        #[arg(long)]
        state: Option<String>,
        /// Only this agent's items.
        #[arg(long)]
        assignee: Option<String>,
        /// Only this team's items.
        #[arg(long)]
        team: Option<String>,
        /// Only items with a clock past due.
        #[arg(long)]
        breached: bool,
    },
    /// One item with its clocks and history.
    Show {
        /// The item id.
        id: i64,
    },
    /// Take items (refused for items another agent owns).
    Claim {
        /// Item ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Give items to an agent.
    Assign {
        /// The agent.
        to: String,
        /// Item ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Record the receipt sent to the author ("thanks, we are on it"): the first response.
    Ack {
        /// The item id.
        id: i64,
        /// The reference the author was given (a ticket number).
        #[arg(long)]
        reference: Option<String>,
    },
    /// Waiting on the author or a third party.
    Pending {
        /// Item ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Mark items done.
    Resolve {
        /// Item ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Back to work.
    Reopen {
        /// The item id.
        id: i64,
    },
    /// Give items up: not_actionable, duplicate, spam, abuse, own_post, answered_elsewhere.
    Dismiss {
        /// The reason.
        reason: String,
        /// Item ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Add a tag.
    Tag {
        /// The tag.
        tag: String,
        /// Item ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Add an internal note.
    Note {
        /// The item id.
        id: i64,
        /// The note.
        body: String,
    },
    /// Fold an item into another.
    Merge {
        /// The item given up.
        id: i64,
        /// The item it goes into.
        into: i64,
    },
    /// Hand an item off to a ticket system (a zammad, znuny or webhook receiver named in
    /// desk.handoff).
    Handoff {
        /// The item id.
        id: i64,
        /// The hand-off target.
        target: String,
    },
    /// Correct the scorer: the opening post's sentiment label and/or intent (kept as an
    /// event; `lauscher eval --corrections` learns from them).
    Correct {
        /// The item id.
        id: i64,
        /// negative, neutral or positive.
        #[arg(long)]
        label: Option<String>,
        /// complaint, question, praise or other.
        #[arg(long)]
        intent: Option<String>,
    },
    /// Flag an author: troll (later posts low priority, out of the complaint KPIs), vip
    /// (at least high priority) or none.
    Flag {
        /// The author's handle.
        author: String,
        /// troll, vip or none.
        flag: String,
        /// Why (kept with the flag).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Mark an agent away (auto-assignment passes them over; what they hold stays
    /// theirs) or, with --back, available again.
    Away {
        /// The agent's name.
        agent: String,
        /// Available again.
        #[arg(long)]
        back: bool,
    },
    /// Service KPIs: volume, first response (median, p90), service level at 1h and 6h,
    /// resolution, resolved share, handle time, backlog, detection lag.
    Kpi {
        /// Cohort start: an age (`7d`) or time (default 7 days ago).
        #[arg(long)]
        since: Option<String>,
        /// Cohort end (default now).
        #[arg(long)]
        until: Option<String>,
        /// Also per team, agent, topic, source or intent.
        #[arg(long)]
        per: Option<String>,
    },
}

/// `lauscher token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
    /// Directory of the state store the daemon uses.
    #[arg(
        long,
        env = "LAUSCHER_DATA_DIR",
        default_value = "lauscher-data",
        global = true
    )]
    pub data_dir: PathBuf,
}

/// Token subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token; its secret is printed once (the state store keeps a hash).
    Create {
        /// Who acts with it: audit entries name it (an agent's name).
        name: String,
        /// viewer (reads), agent (also works desk items and incidents) or admin (also
        /// reloads rules).
        #[arg(long, default_value = "agent")]
        role: String,
    },
    /// Tokens with their roles (never their secrets).
    List,
    /// Revoke a token (within 5 s on a running daemon).
    Revoke {
        /// The token's name.
        name: String,
    },
}
