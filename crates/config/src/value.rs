//! Value types users write by hand: durations (`90s`, `5m`, `1h30m`) and sizes (`8MiB`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Deserialises a value written as text through `parse`, failing inside the scalar so
/// that the YAML reader reports the error at the value's own line and column (an error
/// raised after the scalar was read is reported at the enclosing mapping). Numbers are
/// read as their text, so `ttl: 5` reaches `parse` as `"5"` and fails there with its
/// message ("missing unit").
pub fn deserialize_parsed<'de, D, T, E>(
    d: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, E>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: fmt::Display,
{
    struct Text<T, E> {
        expecting: &'static str,
        parse: fn(&str) -> Result<T, E>,
    }
    impl<T, E: fmt::Display> serde::de::Visitor<'_> for Text<T, E> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<X: serde::de::Error>(self, v: &str) -> Result<T, X> {
            (self.parse)(v).map_err(X::custom)
        }
        fn visit_u64<X: serde::de::Error>(self, v: u64) -> Result<T, X> {
            self.visit_str(&v.to_string())
        }
        fn visit_i64<X: serde::de::Error>(self, v: i64) -> Result<T, X> {
            self.visit_str(&v.to_string())
        }
        fn visit_f64<X: serde::de::Error>(self, v: f64) -> Result<T, X> {
            self.visit_str(&v.to_string())
        }
    }
    d.deserialize_any(Text { expecting, parse })
}

/// A duration written as a number with a unit: `250ms`, `30s`, `5m`, `6h`, `7d`, or
/// combinations such as `1h30m`. A bare number is rejected: its unit would be a guess.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Parses the text form.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty duration: expected e.g. 30s, 5m, 1h".into());
        }
        let mut total = Duration::ZERO;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(format!(
                    "invalid duration {s:?}: expected a number before the unit, e.g. 30s, 5m, 1h"
                ));
            }
            let n: u64 = rest[..digits]
                .parse()
                .map_err(|_| format!("invalid duration {s:?}: number too large"))?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let part = match unit {
                "ms" => Duration::from_millis(n),
                "s" => Duration::from_secs(n),
                "m" => Duration::from_secs(n * 60),
                "h" => Duration::from_secs(n * 3600),
                "d" => Duration::from_secs(n * 86_400),
                "" => {
                    return Err(format!(
                        "invalid duration {s:?}: missing unit (ms, s, m, h or d)"
                    ));
                }
                other => {
                    return Err(format!(
                        "invalid duration {s:?}: unknown unit {other:?}, expected ms, s, m, h or d"
                    ));
                }
            };
            total += part;
        }
        Ok(HumanDuration(total))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if !ms.is_multiple_of(1000) {
            write!(f, "{ms}ms")
        } else {
            write!(f, "{}s", ms / 1000)
        }
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_parsed(d, "a duration such as 30s, 5m or 1h", HumanDuration::parse)
    }
}

/// A size in bytes written with a binary unit: `512KiB`, `8MiB`, `1GiB`, or plain bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses the text form.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        if digits == 0 {
            return Err(format!(
                "invalid size {s:?}: expected e.g. 512KiB, 8MiB, 1GiB"
            ));
        }
        let n: u64 = s[..digits]
            .parse()
            .map_err(|_| format!("invalid size {s:?}: number too large"))?;
        let factor = match s[digits..].trim() {
            "" | "B" => 1,
            "KiB" | "KB" | "kB" => 1 << 10,
            "MiB" | "MB" => 1 << 20,
            "GiB" | "GB" => 1 << 30,
            other => {
                return Err(format!(
                    "invalid size {s:?}: unknown unit {other:?}, expected B, KiB, MiB or GiB"
                ));
            }
        };
        n.checked_mul(factor)
            .map(ByteSize)
            .ok_or_else(|| format!("invalid size {s:?}: too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_parsed(d, "a size such as 512KiB or 8MiB", ByteSize::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(
            HumanDuration::parse("1h30m").map(|d| d.0),
            Ok(Duration::from_secs(5400))
        );
        assert_eq!(
            HumanDuration::parse("250ms").map(|d| d.0),
            Ok(Duration::from_millis(250))
        );
        assert!(HumanDuration::parse("5").is_err());
        assert!(HumanDuration::parse("5 minutes").is_err());
    }

    #[test]
    fn parses_sizes() {
        assert_eq!(ByteSize::parse("8MiB"), Ok(ByteSize(8 << 20)));
        assert_eq!(ByteSize::parse("100"), Ok(ByteSize(100)));
        assert!(ByteSize::parse("8 parsecs").is_err());
    }

    #[test]
    fn neutral_bands_are_one_number_or_two_sides() {
        let band = |y: &str| serde_norway::from_str::<NeutralBand>(y).map_err(|e| e.to_string());
        assert_eq!(
            band("0.3"),
            Ok(NeutralBand::symmetric(0.3).expect("in range"))
        );
        assert_eq!(
            band("{negative: 0.2, positive: 0.3}"),
            Ok(NeutralBand::new(0.2, 0.3).expect("in range"))
        );
        assert!(band("1.5").is_err_and(|e| e.contains("[0, 1)")));
        assert!(band("{negative: 0.2}").is_err_and(|e| e.contains("expected a neutral band")));
        assert!(band("hoch").is_err_and(|e| e.contains("expected a neutral band")));
    }
}

/// An IANA time zone (`Europe/Berlin`, `America/New_York`), parsed where it is written:
/// in the alerting file, a CLI flag or an API parameter. Its [`Default`], Europe/Berlin,
/// is the one fallback of every part of Lauscher (seasonality, mute times, digests,
/// insight timelines and reports) where the user named no zone: Lauscher's first users
/// listen in German-speaking markets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone(chrono_tz::Europe::Berlin)
    }
}

impl std::str::FromStr for TimeZone {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<chrono_tz::Tz>().map(TimeZone).map_err(|_| {
            format!("unknown time zone {s:?}: expected an IANA name like Europe/Berlin")
        })
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_parsed(d, "an IANA time zone such as Europe/Berlin", str::parse)
    }
}

/// The scores a language labels neutral: from `-negative` to `+positive`. Written as one
/// number for both sides (`0.3`) or as `{negative: 0.24, positive: 0.3}`; each side in
/// `[0, 1)`.
///
/// Decision: the sides may differ because lexicon scorers lean positive on tweets: praise
/// comes in strong words and emoji, while complaints are often sarcasm or plain reports
/// of a failure that score weakly, so a narrower negative side finds them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NeutralBand {
    /// The most negative score still neutral, as a positive number.
    pub negative: f32,
    /// The most positive score still neutral.
    pub positive: f32,
}

impl NeutralBand {
    /// A band of `negative` below and `positive` above zero, each in `[0, 1)`.
    pub fn new(negative: f32, positive: f32) -> Result<NeutralBand, String> {
        for (side, v) in [("negative", negative), ("positive", positive)] {
            if !(0.0..1.0).contains(&v) {
                return Err(format!("neutral band {side} side {v} must be in [0, 1)"));
            }
        }
        Ok(NeutralBand { negative, positive })
    }

    /// The same width on both sides.
    pub fn symmetric(width: f32) -> Result<NeutralBand, String> {
        if !(0.0..1.0).contains(&width) {
            return Err(format!("neutral band {width} must be in [0, 1)"));
        }
        Ok(NeutralBand {
            negative: width,
            positive: width,
        })
    }
}

impl<'de> Deserialize<'de> for NeutralBand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor rather than an untagged enum: a side out of range fails inside the
        // value, so the error stands under it.
        struct Band;
        impl<'de> serde::de::Visitor<'de> for Band {
            type Value = NeutralBand;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a neutral band: a number such as 0.3, or {negative: 0.24, positive: 0.3}",
                )
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<NeutralBand, E> {
                NeutralBand::symmetric(v as f32).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NeutralBand, E> {
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NeutralBand, E> {
                self.visit_f64(v as f64)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<NeutralBand, A::Error> {
                use serde::de::Error;
                let (mut negative, mut positive) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    let side = match key.as_str() {
                        "negative" => &mut negative,
                        "positive" => &mut positive,
                        other => {
                            return Err(A::Error::unknown_field(other, &["negative", "positive"]));
                        }
                    };
                    *side = Some(map.next_value::<f32>()?);
                }
                let (Some(n), Some(p)) = (negative, positive) else {
                    return Err(A::Error::custom(
                        "expected a neutral band with both sides: {negative: 0.24, positive: 0.3}",
                    ));
                };
                NeutralBand::new(n, p).map_err(A::Error::custom)
            }
        }
        d.deserialize_any(Band)
    }
}

/// A language Lauscher writes reports and digests in: `de` or `en`. (Alert messages
/// may use any language with a template; reports need our own words for it.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReportLanguage {
    /// German.
    De,
    /// English, where nothing else is said.
    #[default]
    En,
}

impl ReportLanguage {
    /// The ISO 639-1 code.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportLanguage::De => "de",
            ReportLanguage::En => "en",
        }
    }
}

impl std::str::FromStr for ReportLanguage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "de" => Ok(ReportLanguage::De),
            "en" => Ok(ReportLanguage::En),
            other => Err(format!("invalid language {other:?}: expected de or en")),
        }
    }
}

impl fmt::Display for ReportLanguage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ReportLanguage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_parsed(d, "de or en", str::parse)
    }
}
