//! Process-wide metrics in Prometheus' text format, served at `/metrics`
//! by `hrsync serve`: runs by status, applied changes by kind and outcome,
//! identity conflicts,
//! plugin call latency, and plugins' outbound HTTP calls by status. A
//! handful of counters and histograms behind one lock each; they are
//! touched per call and per batch, not per record.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

struct Family<T> {
    help: &'static str,
    series: BTreeMap<Labels, T>,
}

#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<&'static str, Family<u64>>>,
    histograms: Mutex<BTreeMap<&'static str, Family<Histogram>>>,
    gauges: Mutex<BTreeMap<&'static str, Family<i64>>>,
}

pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// How a plugin's name appears in labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginNames {
    /// As the plugin's manifest names it.
    Shown,
    /// `p_` and 8 hex digits of its BLAKE3 hash: plugin names are chosen by
    /// the tenants that upload them, and stay out of the operator's
    /// monitoring unless the operator lets them in.
    Hashed,
}

fn label_value(key: &str, value: &str, names: PluginNames) -> String {
    match names {
        PluginNames::Hashed if key == "plugin" => format!("p_{}", &blake3::hash(value.as_bytes()).to_hex()[..8]),
        _ => escape(value),
    }
}

fn render_labels(labels: &Labels, extra: Option<(&str, String)>, names: PluginNames) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", label_value(k, v, names)))
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

impl Metrics {
    pub fn count(&self, name: &'static str, help: &'static str, pairs: &[(&'static str, &str)], by: u64) {
        if let Ok(mut counters) = self.counters.lock() {
            let family = counters.entry(name).or_insert_with(|| Family {
                help,
                series: BTreeMap::new(),
            });
            *family.series.entry(labels(pairs)).or_default() += by;
        }
    }

    pub fn observe(&self, name: &'static str, help: &'static str, pairs: &[(&'static str, &str)], seconds: f64) {
        if let Ok(mut histograms) = self.histograms.lock() {
            let family = histograms.entry(name).or_insert_with(|| Family {
                help,
                series: BTreeMap::new(),
            });
            let histogram = family.series.entry(labels(pairs)).or_default();
            for (bucket, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *bucket += 1;
                }
            }
            histogram.sum += seconds;
            histogram.count += 1;
        }
    }

    /// Moves a gauge (a level that goes up and down) by `delta`.
    pub fn shift(&self, name: &'static str, help: &'static str, pairs: &[(&'static str, &str)], delta: i64) {
        if let Ok(mut gauges) = self.gauges.lock() {
            let family = gauges.entry(name).or_insert_with(|| Family {
                help,
                series: BTreeMap::new(),
            });
            *family.series.entry(labels(pairs)).or_default() += delta;
        }
    }

    /// The text exposition format, version 0.0.4.
    pub fn render(&self, names: PluginNames) -> String {
        let mut out = String::new();
        if let Ok(counters) = self.counters.lock() {
            for (name, family) in counters.iter() {
                let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} counter", family.help);
                for (labels, value) in &family.series {
                    let _ = writeln!(out, "{name}{} {value}", render_labels(labels, None, names));
                }
            }
        }
        if let Ok(gauges) = self.gauges.lock() {
            for (name, family) in gauges.iter() {
                let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} gauge", family.help);
                for (labels, value) in &family.series {
                    let _ = writeln!(out, "{name}{} {value}", render_labels(labels, None, names));
                }
            }
        }
        if let Ok(histograms) = self.histograms.lock() {
            for (name, family) in histograms.iter() {
                let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} histogram", family.help);
                for (labels, h) in &family.series {
                    for (count, bound) in h.counts.iter().zip(BUCKETS) {
                        let le = Some(("le", bound.to_string()));
                        let _ = writeln!(out, "{name}_bucket{} {count}", render_labels(labels, le, names));
                    }
                    let inf = Some(("le", "+Inf".to_string()));
                    let _ = writeln!(out, "{name}_bucket{} {}", render_labels(labels, inf, names), h.count);
                    let _ = writeln!(out, "{name}_sum{} {}", render_labels(labels, None, names), h.sum);
                    let _ = writeln!(out, "{name}_count{} {}", render_labels(labels, None, names), h.count);
                }
            }
        }
        out
    }
}

/// A run ended with `status`.
pub fn run_finished(status: &str) {
    global().count("hrsync_runs_total", "Runs by final status.", &[("status", status)], 1);
}

/// Changes applied (or failed) in a run, by kind and outcome.
pub fn changes(kind: &str, outcome: &str, count: u64) {
    global().count(
        "hrsync_changes_total",
        "Planned changes by kind and outcome.",
        &[("kind", kind), ("outcome", outcome)],
        count,
    );
}

/// Identity conflicts a run reported (one per employee involved): two
/// employees wanting one account, e-mail or user name.
pub fn conflicts(count: u64) {
    global().count(
        "hrsync_identity_conflicts_total",
        "Employees reported in an identity conflict (shared e-mail, user name or account), per run.",
        &[],
        count,
    );
}

/// One call into a plugin and how long it took.
pub fn plugin_call(plugin: &str, function: &str, seconds: f64) {
    global().observe(
        "hrsync_plugin_call_seconds",
        "Time spent in calls into plugins, by plugin and function.",
        &[("plugin", plugin), ("function", function)],
        seconds,
    );
}

/// One outbound HTTP request of a plugin; `status` is the HTTP status or
/// `error` / `denied`.
pub fn plugin_http(plugin: &str, status: &str) {
    global().count(
        "hrsync_plugin_http_requests_total",
        "Outbound HTTP requests of plugins, by plugin and status.",
        &[("plugin", plugin), ("status", status)],
        1,
    );
}

/// A plugin instance was made (`1`) or dropped (`-1`).
pub fn plugin_instances(delta: i64) {
    global().shift(
        "hrsync_plugin_instances",
        "Plugin instances alive in this process (each holds its linear memory).",
        &[],
        delta,
    );
}

/// Runs of this process that hold a slot (`running`) or wait for one
/// (`queued`), moved by `delta`.
pub fn runs_in(state: &'static str, delta: i64) {
    global().shift(
        "hrsync_runs_in_process",
        "Runs of this process holding a run slot (running) or waiting for one (queued).",
        &[("state", state)],
        delta,
    );
}

/// Runs left `running` by a process that died, found and marked
/// `interrupted` by this one (their integrations are due again).
pub fn runs_taken_over(count: u64) {
    global().count(
        "hrsync_runs_taken_over_total",
        "Runs left by a process that died (killed, crashed), marked interrupted by this process.",
        &[],
        count,
    );
}

/// The levels and the counters an alert watches, at zero, so that a
/// process that has not run anything yet shows them (`hrsync serve` calls
/// this at start).
pub fn declare() {
    for state in ["running", "queued"] {
        runs_in(state, 0);
    }
    plugin_instances(0);
    for status in ["succeeded", "partial", "failed", "interrupted"] {
        global().count("hrsync_runs_total", "Runs by final status.", &[("status", status)], 0);
    }
    runs_taken_over(0);
}

/// This process's resident memory, in the text format (Linux; nothing
/// elsewhere): read when `/metrics` is asked, not kept.
pub fn render_process() -> String {
    let Some(bytes) = resident_bytes() else {
        return String::new();
    };
    format!(
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
         # TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {bytes}\n"
    )
}

fn resident_bytes() -> Option<u64> {
    // statm counts pages: size, resident, shared, ...
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // Linux on the platforms hrsync is built for uses 4 KiB pages.
    Some(pages * 4096)
}

/// How long a run waited for a slot, by what started it.
pub fn run_queue_wait(trigger: &str, seconds: f64) {
    global().observe(
        "hrsync_run_queue_wait_seconds",
        "Time runs waited for a free run slot, by trigger.",
        &[("trigger", trigger)],
        seconds,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms_in_the_text_format() {
        let metrics = Metrics::default();
        metrics.count("t_total", "Things.", &[("kind", "a\"b")], 2);
        metrics.count("t_total", "Things.", &[("kind", "a\"b")], 1);
        metrics.observe("t_seconds", "Time.", &[], 0.003);
        metrics.observe("t_seconds", "Time.", &[], 2.0);
        let text = metrics.render(PluginNames::Shown);
        assert!(
            text.contains("# TYPE t_total counter\nt_total{kind=\"a\\\"b\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("t_seconds_bucket{le=\"0.005\"} 1\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"5\"} 2\n"), "{text}");
        assert!(
            text.contains("t_seconds_bucket{le=\"+Inf\"} 2\nt_seconds_sum 2.003\nt_seconds_count 2\n"),
            "{text}"
        );
    }

    #[test]
    fn gauges_go_up_and_down() {
        let metrics = Metrics::default();
        metrics.shift("t_level", "Level.", &[("state", "queued")], 3);
        metrics.shift("t_level", "Level.", &[("state", "queued")], -1);
        let text = metrics.render(PluginNames::Shown);
        assert!(
            text.contains("# TYPE t_level gauge\nt_level{state=\"queued\"} 2\n"),
            "{text}"
        );
    }

    #[test]
    fn plugin_names_chosen_by_tenants_are_hashed_unless_shown() {
        let metrics = Metrics::default();
        metrics.count(
            "calls_total",
            "Calls.",
            &[("plugin", "evil\"}name"), ("status", "200")],
            1,
        );
        let hashed = metrics.render(PluginNames::Hashed);
        let expected = format!("plugin=\"p_{}\"", &blake3::hash(b"evil\"}name").to_hex()[..8]);
        assert!(hashed.contains(&expected) && !hashed.contains("evil"), "{hashed}");
        assert!(hashed.contains("status=\"200\""), "{hashed}");
        assert!(metrics.render(PluginNames::Shown).contains("plugin=\"evil\\\"}name\""));
    }
}
