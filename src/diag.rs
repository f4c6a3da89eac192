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
    set_purge_delay(SHORT_PURGE_DELAY_MS);
}

const SHORT_PURGE_DELAY_MS: std::ffi::c_long = 100;

/// Freed memory kept for reuse while this guard lives, handed back when it is dropped. For a
/// part of a run that allocates and frees the same sizes over and over while its live memory only
/// grows (reading the inputs: block after block parsed, put in the table and freed): with the
/// usual 100 ms, a block's freed buffers went back to the system and the next blocks faulted
/// fresh, zeroed pages in. Measured at 10M tickets: ~11,000 faults (most of them 2 MB pages)
/// against ~1,000, and 1.3-1.6 s less in the kernel, with the same peak (1.01-1.02 GB).
pub struct KeepFreedMemory {
    /// the delay before, set again when the guard is dropped
    delay_before: std::ffi::c_long,
}

impl KeepFreedMemory {
    pub fn now() -> Self {
        // SAFETY: reading an option is allowed at any time.
        let delay_before = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        // a long delay, not a negative one: a negative delay never hands memory back, not even
        // when asked to
        set_purge_delay(600_000);
        KeepFreedMemory { delay_before }
    }
}

impl Drop for KeepFreedMemory {
    fn drop(&mut self) {
        set_purge_delay(self.delay_before);
        release_freed_memory();
    }
}

fn set_purge_delay(ms: std::ffi::c_long) {
    // (RESET_DELAY: the option's older name, which mimalloc still reads)
    if ["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"].iter().all(|name| std::env::var_os(name).is_none()) {
        // SAFETY: setting an option is allowed at any time; it only changes when freed pages
        // are decommitted.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms) };
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

/// Resident and peak memory of this process (Linux), the processor time it has used so far
/// (user, system) and its page faults, for the timings: the processor time against the wall
/// time shows how much of a step ran on more than one core, the faults how much of its system
/// time went to memory that was new to the process.
pub fn memory() -> String {
    let cpu = cpu_and_faults()
        .map(|(user, system, faults)| format!(", CPU {user:.2} + {system:.2} s, {}k faults", faults / 1000))
        .unwrap_or_default();
    match (status_mb("VmRSS:"), status_mb("VmHWM:")) {
        (Some(rss), Some(peak)) => {
            let peak = RUN_PEAK_MB.fetch_max(peak, std::sync::atomic::Ordering::Relaxed).max(peak);
            format!("RSS {rss} MB, peak {peak} MB{cpu}")
        }
        _ => String::new(),
    }
}

/// User and system processor time of this process so far (in clock ticks of 1/100 s) and its
/// minor page faults: fields 14, 15 and 10 of Linux's `/proc/self/stat`.
fn cpu_and_faults() -> Option<(f64, f64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it are counted from its ')'.
    let after: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
    let field = |n: usize| after.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some((field(14)? as f64 / 100.0, field(15)? as f64 / 100.0, field(10)?))
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
