//! The weekly digest: share of voice, biggest movers, recurring and new complaint
//! topics with samples, and each brand's daily volume, as Markdown or as one HTML file
//! with inline SVG charts and no external assets, ready to forward as it is.

use std::fmt::Write;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use lauscher_config::ReportLanguage;
use lauscher_index::MentionIndex;
use lauscher_query::{RuleKind, RuleSet};

use crate::complaints::{Complaints, Recurrence, complaints};
use crate::share::{ShareOfVoice, share_of_voice};
use crate::timeline::{Timeline, timeline};
use crate::{Filters, InsightsError};

/// Output format, written `md` (or `markdown`) and `html` wherever a user names it: the
/// CLI's `--format` and the API's `format=` parse it the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Markdown.
    Markdown,
    /// One self-contained HTML file.
    Html,
}

impl Format {
    /// The HTTP content type of a report in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "md" | "markdown" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            other => Err(format!("invalid format {other:?}: expected md or html")),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Format {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lauscher_config::value::deserialize_parsed(d, "md or html", str::parse)
    }
}

/// An ISO week (`2026-W47`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Week {
    /// ISO year.
    pub year: i32,
    /// ISO week number.
    pub week: u32,
}

impl std::str::FromStr for Week {
    type Err = InsightsError;
    fn from_str(s: &str) -> Result<Week, InsightsError> {
        let bad = || {
            InsightsError::Invalid(format!(
                "invalid week {s:?}: expected YYYY-Www, e.g. 2026-W47"
            ))
        };
        let (y, w) = s.trim().split_once("-W").ok_or_else(bad)?;
        let week = Week {
            year: y.parse().map_err(|_| bad())?,
            week: w.parse().map_err(|_| bad())?,
        };
        NaiveDate::from_isoywd_opt(week.year, week.week, Weekday::Mon).ok_or_else(bad)?;
        Ok(week)
    }
}

impl std::fmt::Display for Week {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

impl Week {
    /// The last complete week before `now` in `tz`.
    pub fn last_complete(now: DateTime<Utc>, tz: Tz) -> Week {
        let d = (now.with_timezone(&tz) - Duration::days(7)).iso_week();
        Week {
            year: d.year(),
            week: d.week(),
        }
    }

    /// Monday 00:00 to the next Monday 00:00, local time, as UTC instants.
    pub fn bounds(&self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let monday =
            NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon).unwrap_or_default();
        let at = |d: NaiveDate| {
            tz.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
                .earliest()
                .map_or_else(
                    || d.and_time(chrono::NaiveTime::MIN).and_utc(),
                    |t| t.with_timezone(&Utc),
                )
        };
        (at(monday), at(monday + Duration::days(7)))
    }
}

/// A report period: an ISO week or a day, in the user's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// Monday to Monday.
    Week(Week),
    /// Midnight to midnight.
    Day(NaiveDate),
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Period::Week(w) => w.fmt(f),
            Period::Day(d) => write!(f, "{d}"),
        }
    }
}

impl Period {
    /// The last complete week or day before `now` in `tz`.
    pub fn last_complete(every_day: bool, now: DateTime<Utc>, tz: Tz) -> Period {
        if every_day {
            Period::Day(now.with_timezone(&tz).date_naive() - Duration::days(1))
        } else {
            Period::Week(Week::last_complete(now, tz))
        }
    }

    /// Start and end, UTC.
    pub fn bounds(&self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        match self {
            Period::Week(w) => w.bounds(tz),
            Period::Day(d) => (
                local_midnight(*d, tz),
                local_midnight(*d + Duration::days(1), tz),
            ),
        }
    }
}

fn local_midnight(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    tz.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map_or_else(
            || d.and_time(chrono::NaiveTime::MIN).and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

/// Words of the report, per language.
struct Words {
    report: &'static str,
    share_of_voice: &'static str,
    movers: &'static str,
    complaints: &'static str,
    negative_mentions: &'static str,
    nothing_stands_out: &'static str,
    fading: &'static str,
    per_day: &'static str,
    usual_rate: &'static str,
    mentions: &'static str,
    headers: [&'static str; 8],
    day_headers: [&'static str; 5],
    negative: &'static str,
    neutral: &'static str,
    positive: &'static str,
    post: &'static str,
    footer: &'static str,
}

const EN: Words = Words {
    report: "Lauscher report",
    share_of_voice: "Share of voice",
    movers: "Biggest movers",
    complaints: "complaints",
    negative_mentions: "negative mentions in the period",
    nothing_stands_out: "No complaint topic stands out.",
    fading: "Fading",
    per_day: "over time",
    usual_rate: "× the usual rate",
    mentions: "mentions",
    headers: [
        "topic",
        "mentions",
        "Δ",
        "share",
        "Δ pp",
        "net sentiment",
        "Δ",
        "negative",
    ],
    day_headers: ["from", "mentions", "negative", "neutral", "positive"],
    negative: "negative",
    neutral: "neutral",
    positive: "positive",
    post: "post",
    footer: "Made by Lauscher. Every number comes from the index; `lauscher insights` lists the mentions behind it.",
};

const DE: Words = Words {
    report: "Lauscher-Bericht",
    share_of_voice: "Share of Voice",
    movers: "Größte Veränderungen",
    complaints: "Beschwerden",
    negative_mentions: "negative Erwähnungen im Zeitraum",
    nothing_stands_out: "Kein Beschwerdethema sticht heraus.",
    fading: "Abklingend",
    per_day: "im Verlauf",
    usual_rate: "× so häufig wie üblich",
    mentions: "Erwähnungen",
    headers: [
        "Thema",
        "Erwähnungen",
        "Δ",
        "Anteil",
        "Δ pp",
        "Stimmung netto",
        "Δ",
        "negativ",
    ],
    day_headers: ["ab", "Erwähnungen", "negativ", "neutral", "positiv"],
    negative: "negativ",
    neutral: "neutral",
    positive: "positiv",
    post: "Beitrag",
    footer: "Erstellt von Lauscher. Jede Zahl stammt aus dem Index; `lauscher insights` listet die Erwähnungen dahinter.",
};

fn words(lang: ReportLanguage) -> &'static Words {
    match lang {
        ReportLanguage::De => &DE,
        ReportLanguage::En => &EN,
    }
}

/// A report ready to send: title, Markdown, HTML and a short summary for chat.
#[derive(Clone, Debug)]
pub struct Digest {
    /// One line.
    pub title: String,
    /// The whole report, Markdown.
    pub markdown: String,
    /// The whole report, one HTML file.
    pub html: String,
    /// A line per brand: volume, mood and its top complaint.
    pub summary: String,
}

/// The report for `period` in `tz` and `lang` (`de` or `en`), in every form.
pub fn digest(
    index: &MentionIndex,
    rules: &RuleSet,
    period: Period,
    tz: Tz,
    lang: ReportLanguage,
) -> Result<Digest, InsightsError> {
    let parts = gather(index, rules, period, tz, lang)?;
    let w = words(lang);
    let mut summary = String::new();
    for (id, name, c, _) in &parts.brands {
        match parts.sov.topics.iter().find(|t| &t.topic == id) {
            Some(v) => {
                let _ = write!(
                    summary,
                    "{name}: {} {} ({}), net {:+.2}",
                    v.current.mentions,
                    w.mentions,
                    signed(v.mentions_change),
                    v.current.net_sentiment
                );
            }
            None => summary.push_str(name),
        }
        if let Some(top) = c.phrases.first() {
            let status = if top.status.is_empty() {
                String::new()
            } else {
                format!(", {}", top.status)
            };
            let _ = write!(
                summary,
                "; {}: \"{}\" ({}{status})",
                w.complaints, top.phrase, top.count
            );
        }
        summary.push('\n');
    }
    Ok(Digest {
        title: format!("{} {} ({})", w.report, parts.period, days_label(&parts)),
        markdown: markdown(&parts),
        html: html(&parts),
        summary: summary.trim_end().to_owned(),
    })
}

/// What the digest is made of.
struct Parts {
    period: Period,
    lang: ReportLanguage,
    tz: Tz,
    sov: ShareOfVoice,
    brands: Vec<(String, String, Complaints, Timeline)>,
}

fn gather(
    index: &MentionIndex,
    rules: &RuleSet,
    period: Period,
    tz: Tz,
    lang: ReportLanguage,
) -> Result<Parts, InsightsError> {
    let (since, until) = period.bounds(tz);
    let filters = Filters {
        since,
        until,
        ..Filters::default()
    };
    let sov = share_of_voice(index, rules, &filters)?;
    let mut brands = Vec::new();
    for r in rules.rules().iter().filter(|r| r.kind == RuleKind::Brand) {
        let f = Filters {
            topics: vec![r.id.clone()],
            ..filters.clone()
        };
        let c = complaints(index, rules, &f, 10, Recurrence::default())?;
        let interval = if matches!(period, Period::Day(_)) {
            "3h"
        } else {
            "1d"
        };
        let t = timeline(index, rules, &f, interval.parse()?, tz)?;
        brands.push((r.id.clone(), r.name.clone(), c, t));
    }
    Ok(Parts {
        period,
        lang,
        tz,
        sov,
        brands,
    })
}

/// The digest for `week` in `tz`.
pub fn report(
    index: &MentionIndex,
    rules: &RuleSet,
    period: Period,
    tz: Tz,
    format: Format,
    lang: ReportLanguage,
) -> Result<String, InsightsError> {
    let parts = gather(index, rules, period, tz, lang)?;
    Ok(match format {
        Format::Markdown => markdown(&parts),
        Format::Html => html(&parts),
    })
}

fn signed(v: i64) -> String {
    if v > 0 {
        format!("+{v}")
    } else {
        v.to_string()
    }
}

fn pct(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

/// Sentences on the topics that moved most: volume and mood.
fn movers(sov: &ShareOfVoice, w: &Words) -> Vec<String> {
    let mut by: Vec<&crate::share::TopicVoice> = sov.topics.iter().collect();
    by.sort_by_key(|t| std::cmp::Reverse(t.mentions_change.unsigned_abs()));
    by.iter()
        .take(3)
        .filter(|t| t.mentions_change != 0 || t.net_sentiment_change.abs() >= 0.05)
        .map(|t| {
            let rel = if t.previous.mentions > 0 {
                format!(
                    " ({:+.0} %)",
                    t.mentions_change as f64 * 100.0 / t.previous.mentions as f64
                )
            } else {
                String::new()
            };
            format!(
                "{}: {} {}{rel}, {} {:+.1} pp, {} {:+.2}",
                t.name,
                signed(t.mentions_change),
                w.mentions,
                w.headers[3],
                t.share_change_pp,
                w.headers[5],
                t.net_sentiment_change
            )
        })
        .collect()
}

fn days_label(parts: &Parts) -> String {
    let (since, until) = parts.period.bounds(parts.tz);
    let last = until - Duration::days(1);
    // Numeric dates read the same in both languages.
    let (since, last) = (
        since.with_timezone(&parts.tz),
        last.with_timezone(&parts.tz),
    );
    if since.date_naive() == last.date_naive() {
        since.format("%Y-%m-%d").to_string()
    } else {
        format!("{} – {}", since.format("%Y-%m-%d"), last.format("%Y-%m-%d"))
    }
}

fn markdown(p: &Parts) -> String {
    let w = words(p.lang);
    let mut s = String::new();
    let _ = writeln!(s, "# {} {} ({})\n", w.report, p.period, days_label(p));
    let _ = writeln!(s, "## {}\n", w.share_of_voice);
    let _ = writeln!(s, "| {} |", w.headers.join(" | "));
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for t in &p.sov.topics {
        let c = &t.current;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:+.1} | {:+.2} | {:+.2} | {} |",
            t.name,
            c.mentions,
            signed(t.mentions_change),
            pct(c.share),
            t.share_change_pp,
            c.net_sentiment,
            t.net_sentiment_change,
            pct(c.negative_share)
        );
    }
    let movers = movers(&p.sov, w);
    if !movers.is_empty() {
        let _ = writeln!(s, "\n## {}\n", w.movers);
        for m in movers {
            let _ = writeln!(s, "- {m}");
        }
    }
    for (_, name, c, t) in &p.brands {
        let _ = writeln!(s, "\n## {name}: {}\n", w.complaints);
        let _ = writeln!(s, "{} {}.\n", c.foreground, w.negative_mentions);
        if c.phrases.is_empty() {
            let _ = writeln!(s, "{}", w.nothing_stands_out);
        }
        for ph in &c.phrases {
            let status = if ph.status.is_empty() { "" } else { &ph.status };
            let _ = writeln!(
                s,
                "- **{}** {status} · {} {} ({}), {:.1}{}, {}",
                ph.phrase,
                ph.count,
                w.mentions,
                pct(ph.share),
                ph.lift,
                w.usual_rate,
                ph.weekly
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            if let Some(sample) = ph.samples.first() {
                let link = sample
                    .url
                    .as_deref()
                    .map(|u| format!(" ({u})"))
                    .unwrap_or_default();
                let _ = writeln!(s, "  > {}{link}", sample.text.replace('\n', " "));
            }
        }
        if !c.fading.is_empty() {
            let fading: Vec<&str> = c.fading.iter().map(|f| f.phrase.as_str()).collect();
            let _ = writeln!(s, "\n{}: {}.", w.fading, fading.join(", "));
        }
        if let Some(series) = t.series.first() {
            let _ = writeln!(s, "\n| {} |", w.day_headers.join(" | "));
            let _ = writeln!(s, "|---|---:|---:|---:|---:|");
            for b in &series.buckets {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} |",
                    b.start.get(..16).unwrap_or(&b.start).replace('T', " "),
                    b.total,
                    b.labels.negative,
                    b.labels.neutral,
                    b.labels.positive
                );
            }
        }
    }
    s
}

fn esc(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

/// Horizontal bars of the share of voice.
fn share_svg(sov: &ShareOfVoice) -> String {
    let row = 26;
    let h = row * sov.topics.len().max(1) + 8;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"560\" height=\"{h}\" role=\"img\" aria-label=\"share of voice\">"
    );
    for (i, t) in sov.topics.iter().enumerate() {
        let y = i * row + 4;
        let w = (t.current.share * 360.0).round();
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text><rect x=\"150\" y=\"{y}\" width=\"{w}\" height=\"18\" fill=\"#2563eb\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 14,
            esc(&t.name),
            150.0 + w + 6.0,
            y + 14,
            pct(t.current.share)
        );
    }
    s.push_str("</svg>");
    s
}

/// Stacked daily bars by label.
fn timeline_svg(t: &Timeline) -> String {
    let Some(series) = t.series.first() else {
        return String::new();
    };
    let max = series
        .buckets
        .iter()
        .map(|b| b.total)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (bar, gap, height) = (56.0, 12.0, 140.0);
    let width = series.buckets.len() as f64 * (bar + gap);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" role=\"img\" aria-label=\"mentions per day\">",
        height + 36.0
    );
    for (i, b) in series.buckets.iter().enumerate() {
        let x = i as f64 * (bar + gap);
        let mut y = height;
        for (n, colour) in [
            (b.labels.negative, "#dc2626"),
            (b.labels.neutral, "#9ca3af"),
            (b.labels.positive, "#16a34a"),
        ] {
            let h = n as f64 / max * (height - 16.0);
            y -= h;
            let _ = write!(
                s,
                "<rect x=\"{x}\" y=\"{y:.1}\" width=\"{bar}\" height=\"{h:.1}\" fill=\"{colour}\"/>"
            );
        }
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            x + bar / 2.0,
            y - 3.0,
            b.total,
            x + bar / 2.0,
            height + 16.0,
            esc(b.start.get(5..10).unwrap_or(""))
        );
    }
    s.push_str("</svg>");
    s
}

fn html(p: &Parts) -> String {
    let mut s = String::new();
    let w = words(p.lang);
    let title = format!("{} {} ({})", w.report, p.period, days_label(p));
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title></head>\n\
         <body style=\"margin:0 auto;padding:24px;max-width:760px;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:14px;line-height:1.5;color:#1f2328\">\n<h1 style=\"font-size:22px\">{}</h1>\n",
        p.lang,
        esc(&title),
        esc(&title)
    );
    let _ = write!(
        s,
        "<h2 style=\"font-size:18px\">{}</h2>\n{}\n",
        w.share_of_voice,
        share_svg(&p.sov)
    );
    let _ = write!(
        s,
        "<table style=\"border-collapse:collapse;margin:12px 0;font-size:13px\"><tr>{}</tr>",
        w.headers
            .iter()
            .map(|h| format!("<th style=\"text-align:left;padding:4px 10px 4px 0;border-bottom:1px solid #ddd\">{h}</th>"))
            .collect::<String>()
    );
    for t in &p.sov.topics {
        let c = &t.current;
        let cells = [
            esc(&t.name),
            c.mentions.to_string(),
            signed(t.mentions_change),
            pct(c.share),
            format!("{:+.1}", t.share_change_pp),
            format!("{:+.2}", c.net_sentiment),
            format!("{:+.2}", t.net_sentiment_change),
            pct(c.negative_share),
        ];
        let _ = write!(
            s,
            "<tr>{}</tr>",
            cells
                .iter()
                .map(|c| format!("<td style=\"padding:4px 10px 4px 0\">{c}</td>"))
                .collect::<String>()
        );
    }
    s.push_str("</table>\n");
    let movers = movers(&p.sov, w);
    if !movers.is_empty() {
        let _ = write!(s, "<h2 style=\"font-size:18px\">{}</h2><ul>", w.movers);
        for m in movers {
            let _ = write!(s, "<li>{}</li>", esc(&m));
        }
        s.push_str("</ul>\n");
    }
    for (_, name, c, t) in &p.brands {
        let _ = writeln!(
            s,
            "<h2 style=\"font-size:18px\">{}: {}</h2><p>{} {}.</p>",
            esc(name),
            w.complaints,
            c.foreground,
            w.negative_mentions
        );
        if c.phrases.is_empty() {
            let _ = write!(s, "<p>{}</p>", w.nothing_stands_out);
        }
        s.push_str("<ul>");
        for ph in &c.phrases {
            let badge = match ph.status.as_str() {
                "recurring" => {
                    "<span style=\"background:#fee2e2;color:#991b1b;padding:1px 6px;border-radius:8px;font-size:12px\">recurring</span>"
                }
                "new" => {
                    "<span style=\"background:#dbeafe;color:#1e40af;padding:1px 6px;border-radius:8px;font-size:12px\">new</span>"
                }
                _ => "",
            };
            let _ = write!(
                s,
                "<li><b>{}</b> {badge} · {} {} ({}), {:.1}{}",
                esc(&ph.phrase),
                ph.count,
                w.mentions,
                pct(ph.share),
                ph.lift,
                w.usual_rate
            );
            if let Some(sample) = ph.samples.first() {
                let text = esc(&sample.text);
                match &sample.url {
                    Some(u) => {
                        let _ = write!(
                            s,
                            "<br><span style=\"color:#555\">“{text}” <a href=\"{}\">{}</a></span>",
                            esc(u),
                            w.post
                        );
                    }
                    None => {
                        let _ = write!(s, "<br><span style=\"color:#555\">“{text}”</span>");
                    }
                }
            }
            s.push_str("</li>");
        }
        s.push_str("</ul>\n");
        let _ = write!(
            s,
            "<h3 style=\"font-size:15px\">{} {} <span style=\"color:#dc2626\">{}</span> · <span style=\"color:#6b7280\">{}</span> · <span style=\"color:#16a34a\">{}</span></h3>\n{}\n",
            esc(name),
            w.per_day,
            w.negative,
            w.neutral,
            w.positive,
            timeline_svg(t)
        );
    }
    let _ = writeln!(
        s,
        "<p style=\"color:#777;font-size:12px\">{}</p>\n</body></html>",
        esc(w.footer)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_parse_and_bound_in_local_time() {
        let w: Week = "2026-W47".parse().expect("week");
        let tz: Tz = "Europe/Berlin".parse().expect("tz");
        let (since, until) = w.bounds(tz);
        assert_eq!(since.to_rfc3339(), "2026-11-15T23:00:00+00:00");
        assert_eq!(until - since, Duration::days(7));
        assert!("2026-W54".parse::<Week>().is_err());
        assert!("47".parse::<Week>().is_err());
    }
}
