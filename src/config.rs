//! Settings from environment variables, read and validated once at start.
//!
//! Two stages: [`RawConfig`] holds the strings as found, [`Config`] the validated, typed values.
//! Variables are read through a lookup function, so tests pass a map and never touch the process
//! environment. Every error names the variable and the value it refused.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `INDEX_PREFIX` | `cwl` | first part of every index name (`cwl-aws-rds-…-2026.11.21`) |
//! | `INDEX_TYPE` | unset | legacy `_type` for Elasticsearch 6 domains; leave unset for OpenSearch and ES 7+ |

use crate::index_name::is_forbidden;

/// The variables this module reads, in the order documented.
pub const VARIABLES: &[&str] = &["INDEX_PREFIX", "INDEX_TYPE"];

const DEFAULT_INDEX_PREFIX: &str = "cwl";
const MAX_PREFIX_BYTES: usize = 100;

/// Validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub index_prefix: String,
    /// `_type` in every action line (Elasticsearch 6 only: OpenSearch 2 refuses it).
    pub index_type: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config { index_prefix: DEFAULT_INDEX_PREFIX.to_owned(), index_type: None }
    }
}

/// A variable that is set but unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name} is not valid UTF-8")]
    NotUnicode { name: &'static str },
    #[error(
        "INDEX_PREFIX must be lower case letters, digits, '-', '_' or '.', not start with '-', '_', '+' or '.', \
         and be at most {MAX_PREFIX_BYTES} bytes; got {value:?}"
    )]
    IndexPrefix { value: String },
    #[error("INDEX_TYPE must be a non-empty name without '#', ',' or whitespace, not starting with '_' (except \"_doc\"); got {value:?}")]
    IndexType { value: String },
}

/// The variables as found (unset = `None`; empty counts as unset).
#[derive(Debug, Default, Clone)]
pub struct RawConfig {
    pub index_prefix: Option<String>,
    pub index_type: Option<String>,
}

impl RawConfig {
    /// Reads every variable through `lookup`, which returns `Err(())` for a value that is not UTF-8.
    pub fn read(lookup: impl Fn(&str) -> Result<Option<String>, ()>) -> Result<RawConfig, ConfigError> {
        let get = |name: &'static str| -> Result<Option<String>, ConfigError> {
            let value = lookup(name).map_err(|()| ConfigError::NotUnicode { name })?;
            Ok(value.filter(|v| !v.is_empty()))
        };
        Ok(RawConfig { index_prefix: get("INDEX_PREFIX")?, index_type: get("INDEX_TYPE")? })
    }

    /// Reads the process environment: the one place that does.
    #[allow(clippy::disallowed_methods, reason = "config is where environment variables are read")]
    pub fn from_env() -> Result<RawConfig, ConfigError> {
        RawConfig::read(|name| match std::env::var(name) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(()),
        })
    }

    /// Validates and types the values.
    pub fn validate(self) -> Result<Config, ConfigError> {
        let index_prefix = match self.index_prefix {
            None => DEFAULT_INDEX_PREFIX.to_owned(),
            Some(value) if valid_prefix(&value) => value,
            Some(value) => return Err(ConfigError::IndexPrefix { value }),
        };
        let index_type = match self.index_type {
            None => None,
            Some(value) if valid_type(&value) => Some(value),
            Some(value) => return Err(ConfigError::IndexType { value }),
        };
        Ok(Config { index_prefix, index_type })
    }
}

impl Config {
    /// Reads and validates the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        RawConfig::from_env()?.validate()
    }
}

fn valid_prefix(prefix: &str) -> bool {
    prefix.len() <= MAX_PREFIX_BYTES
        && !prefix.starts_with(['-', '_', '+', '.'])
        && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && !prefix.chars().any(is_forbidden)
}

fn valid_type(index_type: &str) -> bool {
    index_type.len() <= 255
        && (index_type == "_doc" || !index_type.starts_with('_'))
        && !index_type.contains(['#', ','])
        && !index_type.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        RawConfig::read(|name| Ok(map.get(name).cloned()))?.validate()
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        assert_eq!(config(&[]).unwrap(), Config { index_prefix: "cwl".into(), index_type: None });
    }

    #[test]
    fn empty_values_count_as_unset() {
        assert_eq!(config(&[("INDEX_PREFIX", ""), ("INDEX_TYPE", "")]).unwrap(), Config::default());
    }

    #[test]
    fn accepts_a_custom_prefix_and_legacy_type() {
        let c = config(&[("INDEX_PREFIX", "rds-slow.v2"), ("INDEX_TYPE", "_doc")]).unwrap();
        assert_eq!(c.index_prefix, "rds-slow.v2");
        assert_eq!(c.index_type.as_deref(), Some("_doc"));
    }

    #[test]
    fn refuses_bad_prefixes_naming_the_variable_and_value() {
        for bad in ["CWL", "-cwl", "_cwl", "+cwl", ".cwl", "c w l", "cwl:x", "cwl*", "cwl/x"] {
            let err = config(&[("INDEX_PREFIX", bad)]).unwrap_err();
            let message = err.to_string();
            assert!(message.starts_with("INDEX_PREFIX"), "{message}");
            assert!(message.contains(&format!("{bad:?}")), "{message}");
        }
    }

    #[test]
    fn refuses_bad_index_types() {
        for bad in ["_type", "a b", "a#b"] {
            let message = config(&[("INDEX_TYPE", bad)]).unwrap_err().to_string();
            assert!(message.starts_with("INDEX_TYPE") && message.contains(bad), "{message}");
        }
    }

    #[test]
    fn names_a_variable_that_is_not_utf8() {
        let err = RawConfig::read(|name| if name == "INDEX_TYPE" { Err(()) } else { Ok(None) }).unwrap_err();
        assert_eq!(err.to_string(), "INDEX_TYPE is not valid UTF-8");
    }
}
