//! Where values come from, and how one is read: each reader names its
//! variable in the error it returns.

use std::time::Duration;
use url::Url;

/// Where configuration values come from: the process environment in
/// production, a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// Variables from a list instead of the environment (tests, benchmarks):
/// the first value given for a name wins.
pub struct Vars(pub Vec<(String, String)>);

impl Vars {
    /// From `(name, value)` pairs, as tests write them.
    pub fn of(pairs: &[(&str, &str)]) -> Self {
        Self(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }
}

impl Source for Vars {
    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

/// The process environment.
pub struct Env;

impl Source for Env {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A configuration value that could not be used; start-up stops with it.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub(super) fn new(var: &'static str, problem: impl Into<String>) -> Self {
        Self { var, problem: problem.into() }
    }
}

/// A yes/no variable: `1`/`true`/`yes` or `0`/`false`/`no` (unset: no).
pub(super) fn flag(src: &dyn Source, var: &'static str) -> Result<bool, ConfigError> {
    match non_empty(src, var).map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("0" | "false" | "no") => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some(other) => Err(ConfigError::new(var, format!("`{other}` is neither 1 nor 0"))),
    }
}

pub(super) fn parse_hhmm(v: &str) -> Option<u32> {
    let (h, m) = v.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

pub(super) fn secs(src: &dyn Source, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
    match non_empty(src, var) {
        None => Ok(Duration::from_secs(default)),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=86_400 * 7).contains(n))
            .map(Duration::from_secs)
            .ok_or_else(|| ConfigError::new(var, format!("`{v}` is not a number of seconds between 1 and 604800"))),
    }
}

pub(super) fn bounded(
    src: &dyn Source,
    var: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    match non_empty(src, var) {
        None => Ok(default),
        Some(v) => v.parse::<u64>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
            ConfigError::new(var, format!("`{v}` is not a number between {} and {}", range.start(), range.end()))
        }),
    }
}

pub(super) fn non_empty(src: &dyn Source, var: &str) -> Option<String> {
    src.get(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub(super) fn url_or(src: &dyn Source, var: &'static str, default: Url) -> Result<Url, ConfigError> {
    match non_empty(src, var) {
        Some(v) => parse_url(var, &v),
        None => Ok(default),
    }
}

pub(super) fn parse_url(var: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| ConfigError::new(var, format!("`{value}` is not a URL ({e})")))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(ConfigError::new(var, format!("`{value}` must be http or https, not {other}"))),
    }
}

/// Appends a path below `base`, keeping any path prefix `base` has.
pub fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}/{path}"));
    url
}
