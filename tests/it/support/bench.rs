//! What the benchmarks share besides the apps they start: the smoke mode
//! the test command runs them in, their knobs, and their statistics.

use std::time::Duration;

/// Whether to run the short smoke pass (seconds, pass/fail) instead of the
/// measurement: `BENCH_SMOKE=1` or `--smoke` asks for it, `BENCH_SMOKE=0`
/// for the measurement; otherwise `cargo bench` (which passes `--bench`)
/// measures and `cargo test --bench <name>` smoke-tests.
pub fn smoke() -> bool {
    match std::env::var("BENCH_SMOKE").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => std::env::args().any(|a| a == "--smoke") || !std::env::args().any(|a| a == "--bench"),
    }
}

/// A numeric knob from the environment, else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

/// The machine's CPU model, for a benchmark's report.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Nearest-rank percentile of samples, in ms (`q` = 0 is the minimum).
pub fn percentile_ms(samples: &[Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}
