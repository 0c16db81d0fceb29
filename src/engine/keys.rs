//! Feature keys and field keys (Metaxy `FeatureKey` / `FieldKey`, FORMAT.md §2.1).

use std::fmt;

use crate::engine::error::EngineError;

/// A feature key: a non-empty sequence of parts, written `a/b/c`.
///
/// Mirrors Metaxy's `FeatureKey`: first part matches `^[a-z_][a-z0-9_-]*$`, other parts `^[a-z0-9_][a-z0-9_-]*$`,
/// no part contains `__` or `/`. Ordering is by the parts tuple (as Python sorts key tuples).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeatureKey {
    parts: Vec<String>,
}

/// A field key (Metaxy `FieldKey`): same part rules as a feature key, e.g. `audio` or `audio/french`.
pub type FieldKey = FeatureKey;

fn valid_part(part: &str, first: bool) -> bool {
    let mut chars = part.chars();
    let Some(c0) = chars.next() else { return false };
    let ok0 = if first {
        c0.is_ascii_lowercase() || c0 == '_'
    } else {
        c0.is_ascii_lowercase() || c0.is_ascii_digit() || c0 == '_'
    };
    ok0 && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && !part.contains("__")
}

impl FeatureKey {
    /// Parses `a/b/c`, validating every part. Errors with [`EngineError::InvalidKey`].
    pub fn parse(s: &str) -> Result<Self, EngineError> {
        let parts: Vec<String> = s.split('/').map(str::to_string).collect();
        Self::from_parts(parts).map_err(|reason| EngineError::InvalidKey {
            key: s.to_string(),
            reason,
        })
    }

    /// Builds a key from parts (e.g. the `[["up","parts"]]` lists of a specific fields mapping).
    pub fn from_parts(parts: Vec<String>) -> Result<Self, String> {
        if parts.is_empty() {
            return Err("key is empty".into());
        }
        for (i, p) in parts.iter().enumerate() {
            if !valid_part(p, i == 0) {
                return Err(format!(
                    "part {p:?} must match {} and must not contain '__'",
                    if i == 0 {
                        "^[a-z_][a-z0-9_-]*$"
                    } else {
                        "^[a-z0-9_][a-z0-9_-]*$"
                    }
                ));
            }
        }
        Ok(Self { parts })
    }

    /// Builds a key without validation (used for keys read back from a store that Metaxy already validated).
    pub fn from_str_unchecked(s: &str) -> Self {
        Self {
            parts: s.split('/').map(str::to_string).collect(),
        }
    }

    /// The parts of the key.
    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// Table name: parts with `-` replaced by `_`, joined by `__` (`example/video` -> `example__video`).
    pub fn table_name(&self) -> String {
        self.parts
            .iter()
            .map(|p| p.replace('-', "_"))
            .collect::<Vec<_>>()
            .join("__")
    }

    /// Struct key of a field inside `*_by_field` columns: parts joined by `_` (`audio/french` -> `audio_french`).
    pub fn struct_key(&self) -> String {
        self.parts.join("_")
    }

    /// Suffix Metaxy appends to renamed upstream system columns: `"__" + "_".join(parts)`.
    pub fn column_suffix(&self) -> String {
        format!("__{}", self.parts.join("_"))
    }
}

impl fmt::Display for FeatureKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.parts.join("/"))
    }
}

/// The system table holding pushed feature graphs: `metaxy-system/feature_versions`.
pub fn feature_versions_key() -> FeatureKey {
    FeatureKey::from_str_unchecked("metaxy-system/feature_versions")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_follow_metaxy() {
        assert_eq!(
            FeatureKey::parse("example/video").unwrap().table_name(),
            "example__video"
        );
        assert_eq!(
            feature_versions_key().table_name(),
            "metaxy_system__feature_versions"
        );
        assert_eq!(
            FeatureKey::parse("audio/french").unwrap().struct_key(),
            "audio_french"
        );
        assert_eq!(
            FeatureKey::parse("example/crop").unwrap().column_suffix(),
            "__example_crop"
        );
    }

    #[test]
    fn invalid_keys_are_rejected() {
        for bad in ["", "A/b", "a//b", "a/b__c", "1a", "a/B"] {
            assert!(FeatureKey::parse(bad).is_err(), "{bad}");
        }
        assert!(FeatureKey::parse("a/1-b").is_ok());
    }

    #[test]
    fn ordering_is_by_parts() {
        let mut v = [
            FeatureKey::parse("a_b").unwrap(),
            FeatureKey::parse("a/z").unwrap(),
        ];
        v.sort();
        assert_eq!(v[0].to_string(), "a/z");
    }
}
