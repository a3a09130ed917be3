//! Where each value of a YAML file stands, by its path.
//!
//! serde turns a file into typed values and forgets where they were written; validation
//! that runs afterwards (a duplicate id, an unknown receiver, a window that is no
//! multiple of its step) still has to point at the value it rejects. [`Spans`] reads the
//! file once more with an event parser (saphyr-parser) and records where every key and
//! every value starts, under its path written the way serde_norway writes paths in its
//! own errors: `sources[2].interval`, `routing.routes[0].receivers[1]`.
//!
//! Decision: one mechanism for every file a user writes (config, alerting, lexicons,
//! topic rules). Errors raised while deserialising a value are located by serde_norway at
//! that value (our value types fail inside the scalar, see [`crate::value`]); errors of
//! validation are located here. Nothing searches the text for a key.
//!
//! Cost: one more parse of the file and one `String` per key and value (microseconds
//! for a config file). An alias (`*name`) is located at the alias. A file the event parser
//! cannot read keeps the positions read before the problem; serde reports the problem.
//! A block scalar (`|`, `>`) starts at its first line of text.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

use crate::file::Located;

/// A 1-based line and character column in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
}

/// The start of every key and value of one YAML document, by path.
#[derive(Debug, Default)]
pub struct Spans {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

/// A collection being read, with the path of its next child.
enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

impl Spans {
    /// Reads the positions of `text`'s first document.
    pub fn read(text: &str) -> Spans {
        let mut spans = Spans::default();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let pos = Pos {
                line: span.start.line(),
                col: span.start.col() + 1,
            };
            let starts_node = matches!(
                event,
                Event::Scalar(..)
                    | Event::MappingStart(..)
                    | Event::SequenceStart(..)
                    | Event::Alias(_)
            );
            if starts_node {
                let path = match stack.last_mut() {
                    None => String::new(),
                    Some(Frame::Seq { path, next }) => {
                        *next += 1;
                        format!("{path}[{}]", *next - 1)
                    }
                    Some(Frame::Map { path, key }) => match key.take() {
                        Some(k) => child(path, &k),
                        None => {
                            // A key. Complex keys (mappings as keys) get a name no lookup
                            // asks for, and their insides are recorded under it.
                            let k = match &event {
                                Event::Scalar(v, ..) => v.to_string(),
                                _ => "?".to_owned(),
                            };
                            spans.keys.insert(child(path, &k), pos);
                            if matches!(event, Event::Scalar(..) | Event::Alias(_)) {
                                *key = Some(k);
                                continue;
                            }
                            child(path, "?")
                        }
                    },
                };
                spans.values.entry(path.clone()).or_insert(pos);
                match event {
                    Event::MappingStart(..) => stack.push(Frame::Map { path, key: None }),
                    Event::SequenceStart(..) => stack.push(Frame::Seq { path, next: 0 }),
                    _ => {}
                }
            } else if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
                stack.pop();
            } else if matches!(event, Event::DocumentEnd) {
                break;
            }
        }
        spans
    }

    /// Returns where the value at `path` starts.
    pub fn value(&self, path: &str) -> Option<Pos> {
        self.values.get(path).copied()
    }

    /// Returns where the key of the entry at `path` starts.
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.keys.get(path).copied()
    }

    /// Returns the start of the value at `path`, or of its nearest enclosing value that
    /// was written (a key left to its default has no place of its own), else 1:1.
    pub fn nearest(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(pos) = self.value(p) {
                return pos;
            }
            match p.rfind(['.', '[']) {
                Some(cut) => p = &p[..cut],
                None => return self.value("").unwrap_or(Pos { line: 1, col: 1 }),
            }
        }
    }
}

/// Returns the path of `key` inside the mapping at `parent`.
fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// A user's YAML file with the positions of its values: makes errors at a value's place.
pub struct YamlFile<'a> {
    /// The file name, as the user gave it.
    pub name: &'a str,
    /// The file's text, as written (before `${NAME}` expansion).
    pub text: &'a str,
    /// Its positions.
    pub spans: Spans,
}

impl<'a> YamlFile<'a> {
    /// Reads the positions of `text`, named `name` in errors.
    pub fn new(name: &'a str, text: &'a str) -> Self {
        YamlFile {
            name,
            text,
            spans: Spans::read(text),
        }
    }

    /// Returns an error at the value at `path` (see [`Spans::nearest`]).
    pub fn at(&self, path: &str, msg: impl Into<String>) -> Located {
        self.located(self.spans.nearest(path), msg)
    }

    /// Returns an error at the key of the entry at `path`, else at its value.
    pub fn at_key(&self, path: &str, msg: impl Into<String>) -> Located {
        let pos = self
            .spans
            .key(path)
            .unwrap_or_else(|| self.spans.nearest(path));
        self.located(pos, msg)
    }

    /// Returns the byte offset in the text where the value at `path` starts.
    pub fn offset(&self, path: &str) -> Option<usize> {
        let pos = self.spans.value(path)?;
        let line_start: usize = self
            .text
            .split_inclusive('\n')
            .take(pos.line - 1)
            .map(str::len)
            .sum();
        let line = self.text.get(line_start..)?;
        let col = line
            .char_indices()
            .nth(pos.col - 1)
            .map_or(line.len(), |(b, _)| b);
        Some(line_start + col)
    }

    fn located(&self, pos: Pos, msg: impl Into<String>) -> Located {
        Located::new(self.name, self.text, pos.line, pos.col, msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "version: 1
sources:
  - id: a
    interval: 5m   # comment
  - id: b
    tags: [x, \"y\"]
    nested:
      deep: |
        block
\"quoted key\": v
";

    #[test]
    fn every_value_and_key_is_found_at_its_own_place() {
        let s = Spans::read(TEXT);
        let at = |p: &str| s.value(p).map(|p| (p.line, p.col));
        assert_eq!(at("version"), Some((1, 10)));
        assert_eq!(at("sources[0].interval"), Some((4, 15)));
        assert_eq!(at("sources[1].id"), Some((5, 9)));
        assert_eq!(at("sources[1].tags[1]"), Some((6, 15)));
        // A block scalar starts where its text does, below the `|`.
        assert_eq!(at("sources[1].nested.deep"), Some((9, 9)));
        assert_eq!(at("quoted key"), Some((10, 15)));
        assert_eq!(
            s.key("sources[0].interval").map(|p| (p.line, p.col)),
            Some((4, 5))
        );
    }

    #[test]
    fn a_missing_value_falls_back_to_its_nearest_written_parent() {
        let s = Spans::read(TEXT);
        assert_eq!(s.nearest("sources[1].window"), Pos { line: 5, col: 5 });
        assert_eq!(s.nearest("nothing.here"), Pos { line: 1, col: 1 });
    }

    #[test]
    fn offsets_count_bytes_of_multibyte_lines() {
        let text = "a: ä\nb: ü\n";
        let f = YamlFile::new("f.yaml", text);
        assert_eq!(f.offset("b"), Some(text.find('ü').expect("in text")));
    }

    #[test]
    fn broken_yaml_keeps_what_was_read() {
        let s = Spans::read("a: 1\nb: [unclosed\n");
        assert!(s.value("a").is_some());
    }
}
