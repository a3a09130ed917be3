//! Evaluation on labeled posts: accuracy, macro-F1, per-class precision/recall/F1 and a
//! confusion matrix, overall and per language.
//!
//! Input is UTF-8 TSV with a header naming at least `id`, `lang`, `label` and `text` (in
//! any order; extra columns are ignored; no quoting, so a text runs to the end of its
//! column). Labels are `negative`, `neutral`, `positive`. An optional `intent` column
//! (`complaint`, `question`, `praise`, `other`; empty for unlabelled rows) is measured
//! the same way ([`IntentConfusion`]). A row with a bad label or too few columns is
//! reported with its line number and skipped, never fatal.

use std::collections::BTreeMap;
use std::io::BufRead;

use lauscher_model::{Intent, Label};
use serde::Serialize;

/// The three labels in matrix order.
pub const LABELS: [Label; 3] = [Label::Negative, Label::Neutral, Label::Positive];

/// One labeled post.
#[derive(Clone, Debug, PartialEq)]
pub struct LabeledPost {
    /// The row's id.
    pub id: String,
    /// The row's language code (may be empty: detect).
    pub lang: String,
    /// The gold label.
    pub label: Label,
    /// The gold intent, when the file has an `intent` column and the row fills it.
    pub intent: Option<Intent>,
    /// The text.
    pub text: String,
}

/// A row that was skipped, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SkippedRow {
    /// 1-based line number in the file.
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

/// Why a labeled file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Reading failed.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// The header lacks a required column.
    #[error("line 1: the header has no {0:?} column (need id, lang, label, text)")]
    MissingColumn(&'static str),
    /// The file is empty.
    #[error("the file is empty: expected a header line")]
    Empty,
}

/// Reads labeled posts, skipping (and reporting) bad rows.
pub fn read_labeled(
    reader: impl BufRead,
) -> Result<(Vec<LabeledPost>, Vec<SkippedRow>), EvalError> {
    let mut lines = reader.lines();
    let header = lines.next().ok_or(EvalError::Empty)??;
    let header = header.trim_start_matches('\u{feff}');
    let cols: Vec<&str> = header.split('\t').map(str::trim).collect();
    let col = |name: &'static str| {
        cols.iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .ok_or(EvalError::MissingColumn(name))
    };
    let (id, lang, label, text) = (col("id")?, col("lang")?, col("label")?, col("text")?);
    let intent_col = cols.iter().position(|c| c.eq_ignore_ascii_case("intent"));
    let needed = id.max(lang).max(label).max(text) + 1;
    let mut posts = Vec::new();
    let mut skipped = Vec::new();
    for (n, line) in lines.enumerate() {
        let line_no = n + 2;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                skipped.push(SkippedRow {
                    line: line_no,
                    reason: format!("unreadable: {e}"),
                });
                continue;
            }
        };
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() < needed {
            skipped.push(SkippedRow {
                line: line_no,
                reason: format!("{} columns, expected at least {needed}", fields.len()),
            });
            continue;
        }
        let gold = match fields[label].trim().to_lowercase().parse::<Label>() {
            Ok(l) => l,
            Err(e) => {
                skipped.push(SkippedRow {
                    line: line_no,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let intent = match intent_col.and_then(|c| fields.get(c)).map(|f| f.trim()) {
            None | Some("") => None,
            Some(raw) => match raw.to_lowercase().parse::<Intent>() {
                Ok(i) => Some(i),
                Err(e) => {
                    skipped.push(SkippedRow {
                        line: line_no,
                        reason: format!("{e}: expected complaint, question, praise or other"),
                    });
                    continue;
                }
            },
        };
        // The text is the last column we need; with no quoting, tabs inside it would
        // have split it, so a trailing text column takes the rest of the line.
        let body = if text == cols.len() - 1 {
            fields[text..].join("\t")
        } else {
            fields[text].to_owned()
        };
        posts.push(LabeledPost {
            id: fields[id].to_owned(),
            lang: fields[lang].trim().to_lowercase(),
            label: gold,
            intent,
            text: body,
        });
    }
    Ok((posts, skipped))
}

/// Precision, recall and F1 of one class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ClassScores {
    /// Of the posts predicted as this class, the share that were.
    pub precision: f64,
    /// Of the posts of this class, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Gold posts of this class.
    pub support: u64,
}

/// Counts of (gold, predicted) pairs, with the measures derived from them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Confusion {
    /// `matrix[gold][predicted]` in [`LABELS`] order.
    pub matrix: [[u64; 3]; 3],
}

fn index(l: Label) -> usize {
    match l {
        Label::Negative => 0,
        Label::Neutral => 1,
        Label::Positive => 2,
    }
}

impl Confusion {
    /// Counts one prediction.
    pub fn add(&mut self, gold: Label, predicted: Label) {
        self.matrix[index(gold)][index(predicted)] += 1;
    }

    /// Posts counted.
    pub fn n(&self) -> u64 {
        self.matrix.iter().flatten().sum()
    }

    /// Share predicted correctly.
    pub fn accuracy(&self) -> f64 {
        let right: u64 = (0..3).map(|i| self.matrix[i][i]).sum();
        ratio(right, self.n())
    }

    /// Scores of one class.
    pub fn class(&self, l: Label) -> ClassScores {
        let i = index(l);
        let tp = self.matrix[i][i];
        let predicted: u64 = (0..3).map(|g| self.matrix[g][i]).sum();
        let support: u64 = self.matrix[i].iter().sum();
        scores(tp, predicted, support)
    }

    /// Unweighted mean of the three classes' F1.
    pub fn macro_f1(&self) -> f64 {
        LABELS.iter().map(|l| self.class(*l).f1).sum::<f64>() / 3.0
    }

    /// The JSON form used by `lauscher eval --json`.
    pub fn report(&self) -> Report {
        Report {
            n: self.n(),
            accuracy: self.accuracy(),
            macro_f1: self.macro_f1(),
            per_class: LABELS
                .iter()
                .map(|l| (l.as_str().to_owned(), self.class(*l)))
                .collect(),
            confusion: self.matrix,
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The four intents in matrix order.
pub const INTENTS: [Intent; 4] = [
    Intent::Complaint,
    Intent::Question,
    Intent::Praise,
    Intent::Other,
];

fn intent_index(i: Intent) -> usize {
    match i {
        Intent::Complaint => 0,
        Intent::Question => 1,
        Intent::Praise => 2,
        Intent::Other => 3,
    }
}

/// Counts of (gold, predicted) intents, and how often each intent was given at all
/// (rows without a gold intent count there only).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntentConfusion {
    /// `matrix[gold][predicted]` in [`INTENTS`] order.
    pub matrix: [[u64; 4]; 4],
    /// Predictions per intent over every row.
    pub given: [u64; 4],
    /// Intent `complaint` against the gold label `negative`: `[[tp, fn], [fp, tn]]`
    /// (rows gold negative / not, columns complaint / not), over every row.
    pub complaint_vs_negative: [[u64; 2]; 2],
}

impl IntentConfusion {
    /// Counts one row.
    pub fn add(&mut self, gold: Option<Intent>, label: Label, predicted: Intent) {
        self.given[intent_index(predicted)] += 1;
        if let Some(g) = gold {
            self.matrix[intent_index(g)][intent_index(predicted)] += 1;
        }
        let row = usize::from(label != Label::Negative);
        let col = usize::from(predicted != Intent::Complaint);
        self.complaint_vs_negative[row][col] += 1;
    }

    /// Rows with a gold intent.
    pub fn labelled(&self) -> u64 {
        self.matrix.iter().flatten().sum()
    }

    /// Scores of one intent against the gold intents.
    pub fn class(&self, intent: Intent) -> ClassScores {
        let i = intent_index(intent);
        let tp = self.matrix[i][i];
        let predicted: u64 = (0..4).map(|g| self.matrix[g][i]).sum();
        scores(tp, predicted, self.matrix[i].iter().sum())
    }

    /// Unweighted mean F1 over the intents that occur in the gold column.
    pub fn macro_f1(&self) -> f64 {
        let present: Vec<Intent> = INTENTS
            .iter()
            .copied()
            .filter(|i| self.class(*i).support > 0)
            .collect();
        if present.is_empty() {
            return 0.0;
        }
        present.iter().map(|i| self.class(*i).f1).sum::<f64>() / present.len() as f64
    }

    /// Intent `complaint` as a detector of gold-negative posts.
    pub fn complaint_of_negative(&self) -> ClassScores {
        let [[tp, fn_], [fp, _]] = self.complaint_vs_negative;
        scores(tp, tp + fp, tp + fn_)
    }

    /// The JSON form used by `lauscher eval --json`.
    pub fn report(&self) -> IntentReport {
        let name = |i: &Intent| i.as_str().to_owned();
        IntentReport {
            labelled: self.labelled(),
            given: INTENTS
                .iter()
                .map(|i| (name(i), self.given[intent_index(*i)]))
                .collect(),
            per_intent: (self.labelled() > 0)
                .then(|| INTENTS.iter().map(|i| (name(i), self.class(*i))).collect()),
            macro_f1: (self.labelled() > 0).then(|| self.macro_f1()),
            confusion: (self.labelled() > 0).then_some(self.matrix),
            complaint_of_negative: self.complaint_of_negative(),
        }
    }
}

fn scores(tp: u64, predicted: u64, support: u64) -> ClassScores {
    let precision = ratio(tp, predicted);
    let recall = ratio(tp, support);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    ClassScores {
        precision,
        recall,
        f1,
        support,
    }
}

/// The intent measures of one file.
#[derive(Clone, Debug, Serialize)]
pub struct IntentReport {
    /// Rows with a gold intent.
    pub labelled: u64,
    /// Predictions per intent over every row.
    pub given: BTreeMap<String, u64>,
    /// Per intent: precision, recall, F1, support (with an intent column).
    pub per_intent: Option<BTreeMap<String, ClassScores>>,
    /// Mean F1 over the intents present (with an intent column).
    pub macro_f1: Option<f64>,
    /// Rows gold, columns predicted, in complaint/question/praise/other order.
    pub confusion: Option<[[u64; 4]; 4]>,
    /// Intent `complaint` as a detector of gold-negative rows.
    pub complaint_of_negative: ClassScores,
}

/// The measures of one confusion matrix.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Posts counted.
    pub n: u64,
    /// Share predicted correctly.
    pub accuracy: f64,
    /// Unweighted mean F1 over the three classes.
    pub macro_f1: f64,
    /// Per class: precision, recall, F1, support.
    pub per_class: BTreeMap<String, ClassScores>,
    /// Rows gold, columns predicted, in negative/neutral/positive order.
    pub confusion: [[u64; 3]; 3],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_and_reports_bad_ones_by_line() {
        let data = "id\tlang\tlabel\ttext\n1\tde\tpositive\tgut\n2\tde\tgood\tx\n3\tde\n\n4\ten\tnegative\tbad\twith tab\n";
        let (posts, skipped) = read_labeled(data.as_bytes()).expect("readable");
        assert_eq!(posts.len(), 2);
        assert_eq!(posts[1].text, "bad\twith tab");
        assert_eq!(
            skipped.iter().map(|s| s.line).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert!(matches!(
            read_labeled("id\tlabel\n".as_bytes()),
            Err(EvalError::MissingColumn("lang"))
        ));
    }

    #[test]
    fn reads_an_optional_intent_column_and_counts_it() {
        let data = "id\tlang\tlabel\tintent\ttext\n1\ten\tnegative\tcomplaint\tlost bag\n2\ten\tneutral\t\tnews\n3\ten\tneutral\tmaybe\tx\n";
        let (posts, skipped) = read_labeled(data.as_bytes()).expect("readable");
        assert_eq!(posts.len(), 2);
        assert_eq!(posts[0].intent, Some(Intent::Complaint));
        assert_eq!(posts[1].intent, None);
        assert_eq!(skipped[0].line, 4);
        let mut c = IntentConfusion::default();
        c.add(Some(Intent::Complaint), Label::Negative, Intent::Complaint);
        c.add(Some(Intent::Other), Label::Neutral, Intent::Complaint);
        c.add(None, Label::Negative, Intent::Other);
        assert_eq!(c.labelled(), 2);
        assert_eq!(c.given[0], 2);
        let k = c.class(Intent::Complaint);
        assert!((k.precision - 0.5).abs() < 1e-9 && (k.recall - 1.0).abs() < 1e-9);
        let n = c.complaint_of_negative();
        assert!((n.precision - 0.5).abs() < 1e-9 && (n.recall - 0.5).abs() < 1e-9);
    }

    #[test]
    fn macro_f1_matches_hand_count() {
        let mut c = Confusion::default();
        for (g, p) in [
            (Label::Negative, Label::Negative),
            (Label::Negative, Label::Neutral),
            (Label::Neutral, Label::Neutral),
            (Label::Positive, Label::Positive),
        ] {
            c.add(g, p);
        }
        assert_eq!(c.n(), 4);
        assert!((c.accuracy() - 0.75).abs() < 1e-9);
        // negative: p 1, r .5 → .667; neutral: p .5, r 1 → .667; positive: 1.
        assert!((c.macro_f1() - (2.0 / 3.0 * 2.0 + 1.0) / 3.0).abs() < 1e-9);
    }
}
