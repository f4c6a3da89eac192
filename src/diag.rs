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

/// `mi_option_purge_delay` in mimalloc.h (v3, the version libmimalloc-sys builds): how long
/// freed memory stays committed before it is handed back.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory stays committed for 100 ms (mimalloc v3's default is 1 s), unless
/// `MIMALLOC_PURGE_DELAY` (or `MIMALLOC_RESET_DELAY`) says otherwise: memory a step has freed
/// leaves sooner, while a column freed and the next one allocated right after still share
/// pages. Measured at 10M tickets (`metrics`, release): peak 1.25-1.30 GB with 1 s, 1.13 GB
/// with 100 ms, in every one of 11 runs; wall times within the machine's noise (8.1-10.4 s
/// against 8.7-10.0 s); 10 ms was slower (9.1-9.4 s).
pub fn tune_allocator() {
    // (RESET_DELAY: the option's older name, which mimalloc still reads)
    if ["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"].iter().all(|name| std::env::var_os(name).is_none()) {
        // SAFETY: setting an option is allowed at any time; it only changes when freed pages
        // are decommitted.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 100) };
    }
}

/// `SOP_IMPACT_TIMINGS=1`: wall time and memory of the steps on stderr (bench/ and profiling).
pub fn timings_enabled() -> bool {
    std::env::var_os("SOP_IMPACT_TIMINGS").is_some_and(|v| v == "1")
}

/// With `SOP_IMPACT_TIMINGS=1`: the memory at a point within a step, with the peak since the
/// last point (the kernel's peak is reset at each point, and the run's kept here).
pub fn trace(what: &str) {
    if timings_enabled() {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let t = START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64();
        let since = status_mb("VmHWM:").map(|p| format!(", peak since the last point {p} MB")).unwrap_or_default();
        eprintln!("memory: {t:>8.3} s {what}: {}{since}", memory());
        // Linux: writing 5 resets the peak resident memory to the current one.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
}

/// The largest peak seen before a reset.
static RUN_PEAK_MB: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn status_mb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// Resident and peak memory of this process (Linux), for the timings.
pub fn memory() -> String {
    match (status_mb("VmRSS:"), status_mb("VmHWM:")) {
        (Some(rss), Some(peak)) => {
            let peak = RUN_PEAK_MB.fetch_max(peak, std::sync::atomic::Ordering::Relaxed).max(peak);
            format!("RSS {rss} MB, peak {peak} MB")
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // mimalloc v3's default purge delay is 1000 ms; its neighbours in the enum default to
        // 1 (eager_commit_delay, deprecated) and 0 (use_numa_nodes)
        // (RESET_DELAY: the option's older name, which mimalloc still reads)
        if ["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"].iter().all(|name| std::env::var_os(name).is_none()) {
            // SAFETY: reading an option.
            let delay = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
            assert_eq!(delay, 1000);
        }
    }
}
