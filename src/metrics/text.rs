//! The Prometheus text exposition format (version 0.0.4), written
//! directly: a `# HELP` and a `# TYPE` line per family, then one line per
//! series, histogram buckets cumulative and ending in `+Inf`. It is a few
//! dozen lines of `write!`, which a crate would not shorten, and writing
//! it here keeps the counters plain arrays (`promtool check metrics`
//! checks the output in the integration tests). Request series that are
//! still zero are left out (105 combinations, most never seen); every
//! other family is written whole, zeros included, so a rate over it
//! starts from the first scrape.

use std::fmt::Write;
use std::time::SystemTime;

use super::cells::{self, Snapshot};
use super::{
    Compression, ConnectionState, Limit, MethodClass, Protocol, CODINGS, DURATION_BUCKETS_MICROS, STATUS_CLASSES,
};

/// What a scrape reports besides the workers' counters.
#[derive(Debug, Clone, Copy)]
pub struct Process {
    pub workers: usize,
    pub budget_used: u64,
    pub budget_limit: u64,
    pub started: SystemTime,
}

const STATUS_LABELS: [&str; STATUS_CLASSES] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The scrape of `sum` and `process`.
pub fn render(sum: &Snapshot, process: &Process) -> String {
    let mut out = String::with_capacity(8 << 10);
    // OK to ignore: writing to a String cannot fail.
    let _ = write_all(&mut out, sum, process);
    out
}

fn write_all(out: &mut String, sum: &Snapshot, process: &Process) -> std::fmt::Result {
    family(out, "rawserve_http_requests_total", "counter", "Requests answered, by method, status class and protocol.")?;
    for method in MethodClass::ALL {
        for (class, status) in STATUS_LABELS.iter().enumerate() {
            for protocol in Protocol::ALL {
                let n = sum.requests(method, class, protocol);
                if n > 0 {
                    let (method, protocol) = (method.label(), protocol.label());
                    writeln!(
                        out,
                        "rawserve_http_requests_total{{method=\"{method}\",status=\"{status}\",protocol=\"{protocol}\"}} {n}"
                    )?;
                }
            }
        }
    }
    single(
        out,
        "rawserve_http_response_bytes_total",
        "counter",
        "Bytes written for responses, heads and bodies.",
        sum.get(cells::RESPONSE_BYTES),
    )?;

    let name = "rawserve_http_request_duration_seconds";
    family(
        out,
        name,
        "histogram",
        "Time from a request's arrival to its response's last byte handed to the kernel, on the worker's clock read \
         once per event-loop turn (0 for a response sent in the turn its request arrived in).",
    )?;
    let mut cumulative = 0u64;
    for (bucket, bound) in DURATION_BUCKETS_MICROS.iter().enumerate() {
        cumulative += sum.get(cells::DURATION_BUCKETS + bucket);
        writeln!(out, "{name}_bucket{{le=\"{}\"}} {cumulative}", seconds(*bound))?;
    }
    cumulative += sum.get(cells::DURATION_BUCKETS + DURATION_BUCKETS_MICROS.len());
    writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}")?;
    writeln!(out, "{name}_sum {}", seconds(sum.get(cells::DURATION_MICROS)))?;
    // The count is the buckets' total, so the two always agree even when
    // a worker counts between the reads of its cells.
    writeln!(out, "{name}_count {cumulative}")?;

    family(out, "rawserve_connections", "gauge", "Open connections by state (as of each worker's last 100 ms tick).")?;
    for (index, state) in ConnectionState::ALL.iter().enumerate() {
        writeln!(out, "rawserve_connections{{state=\"{}\"}} {}", state.label(), sum.get(cells::CONNECTIONS + index))?;
    }
    single(out, "rawserve_connections_accepted_total", "counter", "Connections accepted.", sum.get(cells::ACCEPTED))?;
    family(
        out,
        "rawserve_limits_hit_total",
        "counter",
        "Clients refused by a limit (503, 408, 413, 414, 431, drops).",
    )?;
    for limit in Limit::ALL {
        writeln!(
            out,
            "rawserve_limits_hit_total{{limit=\"{}\"}} {}",
            limit.label(),
            sum.get(cells::LIMITS + limit as usize)
        )?;
    }

    single(
        out,
        "rawserve_tls_handshakes_total",
        "counter",
        "TLS handshakes completed.",
        sum.get(cells::TLS_HANDSHAKES),
    )?;
    single(
        out,
        "rawserve_tls_handshake_failures_total",
        "counter",
        "TLS handshakes refused or abandoned.",
        sum.get(cells::TLS_FAILURES),
    )?;

    single(
        out,
        "rawserve_file_cache_hits_total",
        "counter",
        "File requests answered from a worker's cache of small files.",
        sum.get(cells::CACHE_HITS),
    )?;
    single(
        out,
        "rawserve_file_cache_misses_total",
        "counter",
        "File requests that had to open the file.",
        sum.get(cells::CACHE_MISSES),
    )?;
    family(out, "rawserve_file_cache_bytes", "gauge", "Bytes the workers' caches keep: files, and compressed copies.")?;
    writeln!(out, "rawserve_file_cache_bytes{{kind=\"files\"}} {}", sum.get(cells::CACHE_FILE_BYTES))?;
    writeln!(out, "rawserve_file_cache_bytes{{kind=\"compressed\"}} {}", sum.get(cells::CACHE_COMPRESSED_BYTES))?;

    family(
        out,
        "rawserve_compressions_total",
        "counter",
        "Bodies compressed on the fly: whole (once per file version, kept) or streamed (per request).",
    )?;
    for (slot, coding) in CODINGS.iter().enumerate() {
        for how in [Compression::Whole, Compression::Stream] {
            let mode = match how {
                Compression::Whole => "whole",
                Compression::Stream => "stream",
            };
            let n = sum.get(cells::COMPRESSIONS + slot * 2 + how as usize);
            writeln!(out, "rawserve_compressions_total{{coding=\"{}\",mode=\"{mode}\"}} {n}", coding.token())?;
        }
    }
    single(
        out,
        "rawserve_compression_input_bytes_total",
        "counter",
        "Bytes given to the coders.",
        sum.get(cells::COMPRESS_IN),
    )?;
    single(
        out,
        "rawserve_compression_output_bytes_total",
        "counter",
        "Bytes the coders made.",
        sum.get(cells::COMPRESS_OUT),
    )?;

    family(
        out,
        "rawserve_uploads_total",
        "counter",
        "Uploaded files (PUT, POST forms): landed whole, or discarded with nothing left behind (interrupted, too \
         large, a full disk, refused).",
    )?;
    writeln!(out, "rawserve_uploads_total{{outcome=\"landed\"}} {}", sum.get(cells::UPLOADS))?;
    writeln!(out, "rawserve_uploads_total{{outcome=\"discarded\"}} {}", sum.get(cells::UPLOADS + 1))?;
    single(
        out,
        "rawserve_upload_bytes_total",
        "counter",
        "Bytes of the uploaded files that landed.",
        sum.get(cells::UPLOAD_BYTES),
    )?;

    family(
        out,
        "rawserve_memory_budget_bytes",
        "gauge",
        "The memory budget for what connections hold: used, and its limit.",
    )?;
    writeln!(out, "rawserve_memory_budget_bytes{{kind=\"used\"}} {}", process.budget_used)?;
    writeln!(out, "rawserve_memory_budget_bytes{{kind=\"limit\"}} {}", process.budget_limit)?;
    single(out, "rawserve_workers", "gauge", "Worker threads.", process.workers as u64)?;
    let started = process.started.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |since| since.as_secs_f64());
    family(out, "rawserve_start_time_seconds", "gauge", "When the server started, in seconds since the Unix epoch.")?;
    writeln!(out, "rawserve_start_time_seconds {started:.3}")?;
    family(out, "rawserve_build_info", "gauge", "The version running, as a label; always 1.")?;
    writeln!(out, "rawserve_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"))
}

/// A family's `# HELP` and `# TYPE` lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) -> std::fmt::Result {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} {kind}")
}

/// A family of one series without labels.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: u64) -> std::fmt::Result {
    family(out, name, kind, help)?;
    writeln!(out, "{name} {value}")
}

/// `micros` as seconds, in the shortest decimal that reads back exactly.
fn seconds(micros: u64) -> String {
    // Through whole seconds and a remainder: no float rounding of the
    // bounds (0.0001, not 0.00009999…).
    let (whole, fraction) = (micros / 1_000_000, micros % 1_000_000);
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::WorkerMetrics;

    #[test]
    fn seconds_are_written_exactly() {
        for (micros, text) in [
            (0, "0"),
            (100, "0.0001"),
            (250, "0.00025"),
            (1_000, "0.001"),
            (1_500_000, "1.5"),
            (60_000_000, "60"),
            (7, "0.000007"),
        ] {
            assert_eq!(seconds(micros), text);
        }
    }

    fn scrape(worker: &WorkerMetrics) -> String {
        let mut sum = Snapshot::zero();
        worker.add_to(&mut sum);
        let process = Process { workers: 1, budget_used: 5, budget_limit: 10, started: SystemTime::UNIX_EPOCH };
        render(&sum, &process)
    }

    #[test]
    fn every_family_is_introduced_and_histograms_are_cumulative() {
        let worker = WorkerMetrics::new();
        worker.count_exchange(MethodClass::Get, 200, Protocol::Http11, 1000, 80, None);
        worker.count_exchange(MethodClass::Get, 200, Protocol::Http11, 1000, 2_000_000, None);
        worker.count_exchange(MethodClass::Other, 408, Protocol::Unknown, 100, 90_000_000, Some(Limit::Timeout));
        let text = scrape(&worker);
        let has = |line: &str| assert!(text.lines().any(|l| l == line), "no line {line:?} in:\n{text}");
        has("# TYPE rawserve_http_requests_total counter");
        has(r#"rawserve_http_requests_total{method="GET",status="2xx",protocol="HTTP/1.1"} 2"#);
        has(r#"rawserve_http_requests_total{method="other",status="4xx",protocol="unknown"} 1"#);
        assert!(!text.contains(r#"method="HEAD""#), "zero request series are left out");
        has(r#"rawserve_http_request_duration_seconds_bucket{le="0.0001"} 1"#);
        has(r#"rawserve_http_request_duration_seconds_bucket{le="2.5"} 2"#);
        has(r#"rawserve_http_request_duration_seconds_bucket{le="60"} 2"#);
        has(r#"rawserve_http_request_duration_seconds_bucket{le="+Inf"} 3"#);
        has("rawserve_http_request_duration_seconds_count 3");
        has("rawserve_http_request_duration_seconds_sum 92.00008");
        has("rawserve_http_response_bytes_total 2100");
        has(r#"rawserve_limits_hit_total{limit="timeout"} 1"#);
        has(r#"rawserve_limits_hit_total{limit="connections"} 0"#);
        has(r#"rawserve_connections{state="idle"} 0"#);
        has(r#"rawserve_compressions_total{coding="br",mode="stream"} 0"#);
        has(r#"rawserve_memory_budget_bytes{kind="limit"} 10"#);
        has("rawserve_start_time_seconds 0.000");
        // Every series belongs to the family introduced last.
        let mut family = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap().to_string();
            } else if !line.starts_with('#') {
                assert!(line.starts_with(&family), "{line:?} outside {family}");
            }
        }
    }
}
