//! Message texts and receiver bodies.
//!
//! The words come from templates (`rules/templates/<lang>.j2`, minijinja, strict
//! undefined): the first rendered line is the title, the rest the body. A language
//! without a file uses the bundled template. The JSON shape around them is fixed per
//! receiver kind ([`crate::receiver`]), so a template cannot break a PagerDuty event or a
//! Slack block.

use std::collections::HashMap;
use std::path::Path;

use lauscher_config::{AlertRule, IncidentPolicy};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Value, json};

use crate::incident::Incident;

const BUNDLED: [(&str, &str); 3] = [
    ("de", include_str!("../../../rules/templates/de.j2")),
    ("en", include_str!("../../../rules/templates/en.j2")),
    (HTML, include_str!("../../../rules/templates/email.html.j2")),
];

/// The template of an incident's part of an HTML email (`email.html.j2`).
const HTML: &str = "email.html";

/// Why templates could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A template file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A template does not parse.
    #[error("{file}:{line}: {msg}")]
    Syntax {
        /// The file.
        file: String,
        /// The line.
        line: usize,
        /// What is wrong.
        msg: String,
    },
}

/// The message templates, per language.
#[derive(Clone)]
pub struct Templates {
    env: Environment<'static>,
    langs: Vec<String>,
}

/// A rendered message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// One line.
    pub title: String,
    /// The body, plain text.
    pub text: String,
    /// The body as an HTML fragment, for email.
    pub html: String,
}

impl Templates {
    /// Loads `<lang>.j2` from `dir` (missing directory or files: the bundled ones).
    pub fn load(dir: &Path) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name == HTML {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        let mut langs = Vec::new();
        let mut sources: HashMap<String, (String, String)> = BUNDLED
            .iter()
            .map(|(l, t)| (l.to_string(), (format!("bundled {l}.j2"), t.to_string())))
            .collect();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let (Some(stem), Some("j2")) = (
                    path.file_stem().and_then(|s| s.to_str()),
                    path.extension().and_then(|s| s.to_str()),
                ) else {
                    continue;
                };
                let text = std::fs::read_to_string(&path).map_err(|source| TemplateError::Io {
                    file: path.display().to_string(),
                    source,
                })?;
                sources.insert(stem.to_owned(), (path.display().to_string(), text));
            }
        }
        for (lang, (file, text)) in sources {
            env.add_template_owned(lang.clone(), text)
                .map_err(|e| TemplateError::Syntax {
                    file,
                    line: e.line().unwrap_or(1),
                    msg: e.to_string(),
                })?;
            // `email.html` is a layout, not a language.
            if !lang.contains('.') {
                langs.push(lang);
            }
        }
        Ok(Templates { env, langs })
    }

    /// Whether a template exists for `lang`.
    pub fn has(&self, lang: &str) -> bool {
        self.langs.iter().any(|l| l == lang)
    }

    /// Renders the message for `incident` after `event` in `lang` (English when there
    /// is no template for it). `failure` describes a rejected notification for the
    /// `receiver_health` event. A template that fails at run time falls back to a plain
    /// line, so a typo never swallows an alert.
    #[allow(clippy::too_many_arguments)]
    pub fn render(
        &self,
        lang: &str,
        incident: &Incident,
        event: &str,
        rule: Option<&AlertRule>,
        policy: &IncidentPolicy,
        at: i64,
        failure: Option<&Value>,
    ) -> Message {
        let lang = if self.has(lang) { lang } else { "en" };
        let mut inc = serde_json::to_value(incident).unwrap_or(Value::Null);
        if let Some(obj) = inc.as_object_mut() {
            obj.insert(
                "sla_minutes_left".into(),
                json!(incident.sla_minutes_left(policy, at)),
            );
            if let Some(numbers) = obj.get_mut("evidence").and_then(Value::as_object_mut) {
                numbers.insert(
                    "p_value_text".into(),
                    json!(format_p(incident.evidence.p_value)),
                );
            }
            let numbers = obj.get("evidence").cloned().unwrap_or(Value::Null);
            obj.insert("numbers".into(), numbers);
        }
        let rule_value = json!({
            "id": incident.rule,
            "kind": incident.kind,
            "description": rule.and_then(|r| r.description.clone()),
        });
        let ctx = minijinja::context! {
            incident => inc,
            event => event,
            rule => rule_value,
            failure => failure.cloned().unwrap_or(Value::Null),
        };
        let rendered = self.env.get_template(lang).and_then(|t| t.render(&ctx));
        let mut message = match rendered {
            Ok(text) => {
                let text = text.trim();
                let (title, body) = text.split_once('\n').unwrap_or((text, ""));
                Message {
                    title: title.trim().to_owned(),
                    text: body.trim().to_owned(),
                    html: String::new(),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, lang, "alert template failed; sending a plain message");
                Message {
                    title: format!(
                        "{} {}: {} (level {})",
                        incident.rule, event, incident.topic, incident.level
                    ),
                    text: format!(
                        "{} observed, {:.1} expected",
                        incident.evidence.observed, incident.evidence.expected
                    ),
                    html: String::new(),
                }
            }
        };
        let lines: Vec<&str> = message.text.lines().collect();
        let html_ctx = minijinja::context! {
            title => message.title,
            lines => lines,
            lang => lang,
            ..ctx
        };
        message.html = match self.env.get_template(HTML).and_then(|t| t.render(html_ctx)) {
            Ok(html) => html.trim().to_owned(),
            Err(e) => {
                tracing::warn!(error = %e, "email template failed; sending plain text as HTML");
                format!(
                    "<h2>{}</h2><pre>{}</pre>",
                    html_escape(&message.title),
                    html_escape(&message.text)
                )
            }
        };
        message
    }
}

/// Escapes text for HTML content and double-quoted attributes.
fn html_escape(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

fn format_p(p: f64) -> String {
    if p >= 0.001 {
        format!("{p:.3}")
    } else {
        format!("{p:.1e}")
    }
}

/// A scheduled digest as it goes to a receiver.
pub struct DigestMessage<'a> {
    /// The digest's id in the config.
    pub id: &'a str,
    /// The period (`2026-W47`, `2026-11-22`).
    pub period: &'a str,
    /// One line.
    pub title: &'a str,
    /// A line per brand.
    pub summary: &'a str,
    /// The whole report, Markdown.
    pub markdown: &'a str,
    /// The whole report, one HTML document.
    pub html: &'a str,
    /// Where the full report can be read, if the API is reachable for the team.
    pub link: Option<&'a str>,
}

/// A service desk notice: an SLA clock of an item warns or ran out.
#[derive(Clone, Copy, Debug)]
pub struct DeskNotice<'a> {
    /// The desk item.
    pub item: i64,
    /// `sla_warning` or `sla_breach`.
    pub event: &'a str,
    /// The clock (`first_response`, `next_response`, `resolution`).
    pub clock: &'a str,
    /// When it is (was) due, unix seconds.
    pub due: i64,
    /// One line.
    pub title: &'a str,
    /// A few lines: the post, its author, who owns the item.
    pub text: &'a str,
    /// Where agents open the item, if the API is reachable for them.
    pub link: Option<&'a str>,
}

impl DeskNotice<'_> {
    /// The notice as a digest-shaped message, for kinds that show both the same way.
    pub fn as_digest(&self) -> DigestMessage<'_> {
        DigestMessage {
            id: "desk",
            period: "",
            title: self.title,
            summary: self.text,
            markdown: self.text,
            html: self.text,
            link: self.link,
        }
    }
}

impl DigestMessage<'_> {
    /// The summary, with the link to the full report on its own line when there is one.
    pub fn summary_with_link(&self) -> String {
        match self.link {
            Some(l) => format!("{}\n{l}", self.summary),
            None => self.summary.to_owned(),
        }
    }
}

/// The HTML document around an email's parts.
pub fn html_document(title: &str, parts: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title></head>\n\
         <body style=\"margin:0;padding:16px;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:14px;line-height:1.45;color:#1f2328;max-width:680px\">\n{parts}\n</body></html>\n",
        html_escape(title)
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use lauscher_config::{IncidentPolicy, ReceiverKind};

    use super::Templates;
    use crate::detector::{Evidence, Sample};
    use crate::incident::Incident;

    fn incident(rule: &str) -> Incident {
        let evidence = Evidence {
            observed: 18,
            expected: 2.5,
            p_value: 1e-9,
            window_start: 1_800_000_000,
            window_end: 1_800_003_600,
            samples: vec![Sample {
                id: "m1".into(),
                url: Some("https://social.example/p/1?a=1&b=<2>".into()),
                text: "App <crashes> at login & nobody answers".into(),
                author: "a".into(),
                reach: None,
                published_at: chrono::DateTime::from_timestamp(1_800_000_100, 0)
                    .unwrap_or_default(),
            }],
            ..Evidence::default()
        };
        let mut i = Incident::open(
            rule,
            "acme",
            "spike",
            2,
            evidence,
            1_800_003_600,
            BTreeMap::new(),
        );
        i.id = 7;
        i
    }

    #[test]
    fn bundled_templates_render_text_and_escaped_html_in_both_languages() {
        let t = Templates::load(std::path::Path::new("/nonexistent")).expect("bundled");
        for (lang, word) in [("en", "Escalate"), ("de", "Eskalation")] {
            let m = t.render(
                lang,
                &incident("acme-storm"),
                "opened",
                None,
                &IncidentPolicy::default(),
                1_800_003_600,
                None,
            );
            assert!(m.title.starts_with(word), "{lang}: {}", m.title);
            assert!(m.text.contains("18"), "{}", m.text);
            // The template, not the plain fallback; markup in posts is escaped.
            assert!(m.html.contains("<ul"), "{}", m.html);
            assert!(!m.html.contains("<pre>"), "{}", m.html);
            assert!(m.html.contains("&lt;crashes&gt;"), "{}", m.html);
            assert!(!m.html.contains("<crashes>"), "{}", m.html);
            assert!(m.html.contains("<a href="), "{}", m.html);
        }
        let failure =
            serde_json::json!({"receiver": "slack", "event": "opened", "error": "HTTP 404"});
        let m = t.render(
            "en",
            &incident("acme-storm"),
            "receiver_health",
            None,
            &IncidentPolicy::default(),
            1_800_003_600,
            Some(&failure),
        );
        assert!(m.title.contains("slack"), "{}", m.title);
        assert!(m.text.contains("HTTP 404"), "{}", m.text);
    }

    #[test]
    fn a_calibrated_threshold_says_where_it_came_from() {
        let t = Templates::load(std::path::Path::new("/nonexistent")).expect("bundled");
        let mut i = incident("acme-storm");
        i.evidence.threshold = 16;
        i.evidence.calibration = Some(Box::new(crate::tail::TailFit {
            days: 56.0,
            episodes: 40,
            base: 0.6,
            scale: 0.25,
            shape: 0.0,
            quiet: 0.3,
            level: 1.7,
        }));
        let policy = IncidentPolicy::default();
        for (lang, words) in [
            ("en", "Threshold 16: set from 56 days"),
            ("de", "Schwelle 16: aus 56 Tagen"),
        ] {
            let m = t.render(lang, &i, "opened", None, &policy, 1_800_003_600, None);
            assert!(m.text.contains(words), "{lang}: {}", m.text);
        }
    }

    #[test]
    fn a_group_merges_into_one_chat_or_email_message_but_not_a_page() {
        let t = Templates::load(std::path::Path::new("/nonexistent")).expect("bundled");
        let policy = IncidentPolicy::default();
        let parts: Vec<(Incident, super::Message)> = ["acme-storm", "acme-volume"]
            .iter()
            .map(|r| {
                let i = incident(r);
                let m = t.render("en", &i, "opened", None, &policy, 0, None);
                (i, m)
            })
            .collect();
        let of = |kind| -> Vec<serde_json::Value> {
            let receiver: lauscher_config::ReceiverConfig = serde_json::from_value(
                serde_json::json!({"id": "r", "kind": ReceiverKind::as_str(kind)}),
            )
            .expect("receiver");
            parts
                .iter()
                .map(|(i, m)| crate::receiver::of(kind).incident(i, "opened", m, &receiver))
                .collect()
        };
        let merge = crate::receiver::merge;
        let slack = merge(ReceiverKind::Slack, &of(ReceiverKind::Slack)).expect("slack");
        let blocks = slack["blocks"].as_array().expect("blocks");
        assert_eq!(blocks.iter().filter(|b| b["type"] == "header").count(), 2);
        assert_eq!(blocks.iter().filter(|b| b["type"] == "divider").count(), 1);
        let email = merge(ReceiverKind::Email, &of(ReceiverKind::Email)).expect("email");
        let subject = email["subject"].as_str().unwrap_or("");
        assert!(subject.starts_with("[Lauscher] 2: "), "{subject}");
        assert!(email["html"].as_str().unwrap_or("").matches("<h2").count() == 2);
        let teams = merge(ReceiverKind::Teams, &of(ReceiverKind::Teams)).expect("teams");
        assert_eq!(
            teams["attachments"][0]["content"]["body"]
                .as_array()
                .map(Vec::len),
            Some(6)
        );
        assert!(merge(ReceiverKind::Pagerduty, &of(ReceiverKind::Pagerduty)).is_none());
        assert!(merge(ReceiverKind::Webhook, &of(ReceiverKind::Webhook)).is_none());
    }
}
