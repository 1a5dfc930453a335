//! Where and how to reach the cluster (`OPENSEARCH_ENDPOINT`, `OPENSEARCH_AUTH`,
//! `OPENSEARCH_COMPRESSION`, …): the types and the endpoint's parsing.

use super::{ConfigError, Secret};
use ::opensearch::http::Url;
use std::time::Duration;

/// How to reach the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenSearchConfig {
    /// Base URL, path ending in `/`.
    pub endpoint: Url,
    pub auth: Auth,
    pub compression: Compression,
    /// One request's timeout.
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// AWS Signature Version 4 with the function role's credentials.
    SigV4 {
        service: String,
        region: String,
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Option<Secret>,
    },
    Basic {
        username: String,
        password: Secret,
    },
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

/// `https://host[:port][/path]`; a bare host name gets `https://` (the original Node.js function
/// took its endpoint without a scheme).
pub(super) fn parse_endpoint(value: &str) -> Result<Url, ConfigError> {
    let trimmed = value.trim();
    let with_scheme = if trimmed.contains("://") { trimmed.to_owned() } else { format!("https://{trimmed}") };
    let problem = |problem: &str| ConfigError::Endpoint { value: value.to_owned(), problem: problem.to_owned() };
    let mut url = match Url::parse(&with_scheme) {
        Ok(url) => url,
        // Don't echo a value that failed to parse and might hold a password.
        Err(_) if with_scheme.contains('@') => return Err(ConfigError::EndpointUserInfo),
        Err(e) => return Err(problem(&e.to_string())),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::EndpointUserInfo);
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(problem("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(problem("there is no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(problem("a query string or fragment is not allowed"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}
