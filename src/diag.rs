//! Diagnostics for benchmarks and profiling: memory and timings of a run on stderr with
//! `SOP_IMPACT_TIMINGS=1`, and handing freed memory back between steps. A leaf: every step may
//! use it, it uses none.

/// Hand memory freed by the last step back to the operating system. The allocator keeps freed
/// pages for reuse, which is right within a step but holds a large run's intermediate tables
/// (blocks of the ticket table, query results) as resident memory long after they are gone.
pub fn release_freed_memory() {
    // SAFETY: mi_collect only returns pages that hold no live allocation.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// `SOP_IMPACT_TIMINGS=1`: wall time and memory of the steps on stderr (bench/ and profiling).
pub fn timings_enabled() -> bool {
    std::env::var_os("SOP_IMPACT_TIMINGS").is_some_and(|v| v == "1")
}

/// With `SOP_IMPACT_TIMINGS=1`: the memory at a point within a step.
pub fn trace(what: &str) {
    if timings_enabled() {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let t = START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64();
        eprintln!("memory: {t:>8.3} s {what}: {}", memory());
    }
}

/// Resident and peak memory of this process (Linux), for the timings.
pub fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
    };
    match (field("VmRSS:"), field("VmHWM:")) {
        (Some(rss), Some(peak)) => format!("RSS {} MB, peak {} MB", rss / 1024, peak / 1024),
        _ => String::new(),
    }
}
