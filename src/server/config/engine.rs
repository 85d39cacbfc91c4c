//! The refresh engine's and the diagnosis's tunables. Their defaults are
//! [`EngineSettings::default`] and [`Policy::default`]: written there once,
//! read here only to be overridden.

use super::source::{non_empty, parse_hhmm, secs, ConfigError, Source};
use crate::domain::health::Policy;
use std::time::Duration;

pub(super) fn policy(src: &dyn Source) -> Result<Policy, ConfigError> {
    let defaults = Policy::default();
    let default_secs = |ms: i64| u64::try_from(ms / 1000).unwrap_or(0);
    // AUTHWATCH_REFRESH_LEAD_SECS: refresh this many seconds before expiry. Default 900 (15 min).
    let refresh_lead = secs(src, "AUTHWATCH_REFRESH_LEAD_SECS", default_secs(defaults.refresh_lead_ms))?;
    // AUTHWATCH_CLOCK_DRIFT_THRESHOLD_SECS: warn when X's clock and ours differ by more. Default 30.
    let clock_drift_threshold =
        secs(src, "AUTHWATCH_CLOCK_DRIFT_THRESHOLD_SECS", default_secs(defaults.clock_drift_threshold_ms))?;
    Ok(Policy {
        refresh_lead_ms: refresh_lead.as_millis() as i64,
        clock_drift_threshold_ms: clock_drift_threshold.as_millis() as i64,
    })
}

/// The engine's settings; its leases last twice `x_timeout`.
pub(super) fn engine(src: &dyn Source, x_timeout: Duration) -> Result<EngineSettings, ConfigError> {
    let defaults = EngineSettings::default();
    // AUTHWATCH_SWEEP_INTERVAL_SECS: how often the engine looks for due accounts. Default 30.
    let sweep_every = secs(src, "AUTHWATCH_SWEEP_INTERVAL_SECS", defaults.sweep_every.as_secs())?;
    // AUTHWATCH_REFRESH_CONCURRENCY: refreshes in flight at once during a sweep. Default 4.
    let concurrency = match non_empty(src, "AUTHWATCH_REFRESH_CONCURRENCY") {
        None => defaults.concurrency,
        Some(v) => v.parse::<usize>().ok().filter(|n| (1..=256).contains(n)).ok_or_else(|| {
            ConfigError::new("AUTHWATCH_REFRESH_CONCURRENCY", format!("`{v}` is not a number between 1 and 256"))
        })?,
    };
    // AUTHWATCH_DAILY_CHECK_AT: the daily check's time, HH:MM in UTC ("before publish time"). Default 06:00.
    let daily_check_at_minute = match non_empty(src, "AUTHWATCH_DAILY_CHECK_AT") {
        None => defaults.daily_check_at_minute,
        Some(v) => parse_hhmm(&v).ok_or_else(|| {
            ConfigError::new("AUTHWATCH_DAILY_CHECK_AT", format!("`{v}` is not a time of day as HH:MM (UTC)"))
        })?,
    };
    // AUTHWATCH_PROOF_OF_LIFE_SECS: a successful refresh this recent spares the
    // daily check's users/me call (billed per call on some plans). Default 21600 (6 h).
    let proof_of_life = secs(src, "AUTHWATCH_PROOF_OF_LIFE_SECS", defaults.proof_of_life.as_secs())?;
    Ok(EngineSettings {
        sweep_every,
        concurrency,
        daily_check_at_minute,
        proof_of_life,
        lease: EngineSettings::lease_for(x_timeout),
        ..defaults
    })
}

/// Tunables of the engine. The defaults written here are the only ones:
/// configuration (`AUTHWATCH_SWEEP_INTERVAL_SECS`…) overrides them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineSettings {
    /// How often the scheduler looks for due accounts.
    pub sweep_every: Duration,
    /// Refreshes in flight at once during a sweep.
    pub concurrency: usize,
    /// First backoff after X's passing trouble; doubles each time.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long a refresh lease lasts: longer than the slowest call to X,
    /// so a worker still waiting for X never loses it to another.
    pub lease: Duration,
    /// The daily check's time of day, UTC, in minutes after midnight.
    pub daily_check_at_minute: u32,
    /// A successful refresh this recent is proof of life for the daily check.
    pub proof_of_life: Duration,
}

impl EngineSettings {
    /// The lease for calls to X that may take `x_timeout`: twice that, so a
    /// worker still waiting for X never loses its lease to another.
    pub fn lease_for(x_timeout: Duration) -> Duration {
        x_timeout * 2
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            sweep_every: Duration::from_secs(30),
            concurrency: 4,
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(15 * 60),
            lease: Self::lease_for(super::x::DEFAULT_TIMEOUT),
            daily_check_at_minute: 6 * 60,
            proof_of_life: Duration::from_secs(6 * 3600),
        }
    }
}
