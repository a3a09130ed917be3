//! The languages Lauscher can analyse, as a type: a mention's language, a source's, a
//! configured one. Detection and stemming live in `lauscher-text`.

use std::fmt;
use std::str::FromStr;

/// A language Lauscher can analyse: one with a whatlang profile and a Snowball stemmer
/// (Polish has no stemmer; its posts are indexed unstemmed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Lang {
    De,
    En,
    Fr,
    Es,
    It,
    Nl,
    Pt,
    Sv,
    Da,
    No,
    Fi,
    Tr,
    Ru,
    Pl,
}

impl Lang {
    /// Every supported language.
    pub const ALL: [Lang; 14] = [
        Lang::De,
        Lang::En,
        Lang::Fr,
        Lang::Es,
        Lang::It,
        Lang::Nl,
        Lang::Pt,
        Lang::Sv,
        Lang::Da,
        Lang::No,
        Lang::Fi,
        Lang::Tr,
        Lang::Ru,
        Lang::Pl,
    ];

    /// Returns the ISO 639-1 code (`de`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::Es => "es",
            Lang::It => "it",
            Lang::Nl => "nl",
            Lang::Pt => "pt",
            Lang::Sv => "sv",
            Lang::Da => "da",
            Lang::No => "no",
            Lang::Fi => "fi",
            Lang::Tr => "tr",
            Lang::Ru => "ru",
            Lang::Pl => "pl",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The error for a language code Lauscher cannot analyse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedLang(pub String);

impl fmt::Display for UnsupportedLang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known: Vec<&str> = Lang::ALL.iter().map(|l| l.code()).collect();
        write!(
            f,
            "unsupported language {:?}: expected one of {}",
            self.0,
            known.join(", ")
        )
    }
}

impl std::error::Error for UnsupportedLang {}

impl FromStr for Lang {
    type Err = UnsupportedLang;
    /// Parses ISO 639-1 codes and region-tagged forms (`de`, `de-AT`, `en_US`, `nb`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let primary = s
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let primary = match primary.as_str() {
            "nb" | "nn" => "no",
            other => other,
        };
        Lang::ALL
            .into_iter()
            .find(|l| l.code() == primary)
            .ok_or_else(|| UnsupportedLang(s.to_owned()))
    }
}

impl serde::Serialize for Lang {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Lang {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        code.parse().map_err(serde::de::Error::custom)
    }
}

/// A mention's language as its code: a [`Lang`]'s, or `und` when undetermined. For
/// `#[serde(with = "lauscher_model::lang::code")]` on an `Option<Lang>`.
pub mod code {
    use super::Lang;
    use serde::Deserialize;

    /// The code of an undetermined language.
    pub const UNDETERMINED: &str = "und";

    /// Returns `lang`'s code, or `und`.
    pub fn of(lang: Option<Lang>) -> &'static str {
        lang.map_or(UNDETERMINED, Lang::code)
    }

    /// Serialises as the code.
    pub fn serialize<S: serde::Serializer>(lang: &Option<Lang>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(of(*lang))
    }

    /// Reads a code; `und`, or one Lauscher does not analyse, is undetermined.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Lang>, D::Error> {
        let code = String::deserialize(d)?;
        Ok(code.parse().ok())
    }
}
