//! CPU time of the calling thread, for benchmarking on a shared machine: while other processes
//! compete for the cores, wall time counts the time this thread waits for a core, CPU time does
//! not. Read from `/proc/thread-self/schedstat` (Linux; nanoseconds on a CPU), falling back to
//! wall time elsewhere.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use criterion::Throughput;
use criterion::measurement::{Measurement, ValueFormatter};

/// Nanoseconds the calling thread has run, or `None` where the kernel does not say.
pub fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// A clock that measures this thread's CPU time where it can, wall time otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    cpu: Option<u64>,
    wall: Instant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            cpu: thread_cpu_ns(),
            wall: Instant::now(),
        }
    }

    /// CPU time since `start` (wall time if CPU time is unavailable).
    pub fn cpu_elapsed(&self) -> Duration {
        match (self.cpu, thread_cpu_ns()) {
            (Some(start), Some(now)) => Duration::from_nanos(now.saturating_sub(start)),
            _ => self.wall.elapsed(),
        }
    }

    pub fn wall_elapsed(&self) -> Duration {
        self.wall.elapsed()
    }
}

/// Criterion measurement: CPU time of the benchmarking thread.
pub struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = Clock;
    type Value = Duration;

    fn start(&self) -> Clock {
        Clock::start()
    }

    fn end(&self, clock: Clock) -> Duration {
        clock.cpu_elapsed()
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &NanosFormatter
    }
}

/// Formats nanoseconds like criterion's wall-time formatter (throughput in elements/s).
struct NanosFormatter;

impl ValueFormatter for NanosFormatter {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if ns < 1e3 {
            (1.0, "ns")
        } else if ns < 1e6 {
            (1e-3, "µs")
        } else if ns < 1e9 {
            (1e-6, "ms")
        } else {
            (1e-9, "s")
        };
        for value in values {
            *value *= factor;
        }
        unit
    }

    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (count, units) = match *throughput {
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => {
                (n as f64, [" elem/s", "Kelem/s", "Melem/s"])
            }
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                (n as f64, ["  B/s", "KB/s", "MB/s"])
            }
            Throughput::Bits(n) => (n as f64, ["  b/s", "Kb/s", "Mb/s"]),
        };
        let per_second = count * 1e9 / typical;
        let (denominator, unit) = if per_second < 1e3 {
            (1.0, units[0])
        } else if per_second < 1e6 {
            (1e3, units[1])
        } else {
            (1e6, units[2])
        };
        for value in values {
            *value = count * 1e9 / *value / denominator;
        }
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}
