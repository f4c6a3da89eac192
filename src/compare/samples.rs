//! What the windows' tests read besides the metric values: each ticket's hours to resolve (or
//! open so far) and the priority mix per window.

use super::*;

pub(super) struct WindowValues {
    /// metric → grp → value
    pub(super) values: HashMap<String, HashMap<i64, f64>>,
}

impl WindowValues {
    pub(super) fn get(&self, metric: &str, grp: i64) -> Option<f64> {
        self.values.get(metric).and_then(|m| m.get(&grp)).copied()
    }

    pub(super) fn count(&self, metric: &str, grp: i64) -> u64 {
        self.get(metric, grp).map_or(0, |v| v.round() as u64)
    }
}

pub(super) fn collect_values(df: &DataFrame) -> Result<WindowValues> {
    Ok(WindowValues { values: metrics::values_by_grp(df)? })
}

/// Per window: the hours of its tickets (see `Hours`) and ticket counts per priority.
pub(super) struct Samples {
    pub(super) durations: PlHashMap<i64, Vec<Hours>>,
    pub(super) priorities: PlHashMap<i64, [u64; 6]>,
}

/// A resolved ticket's hours to resolve, or an open one's hours so far, in 8 bytes: the sign
/// says which (negative, -0 included, for open). As (hours, resolved) pairs the windows' samples
/// took 16 bytes a ticket, 0.2 GB at 10M tickets.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hours(pub(super) f64);

impl Hours {
    /// `hours` at least 0.
    pub(super) fn new(hours: f64, resolved: bool) -> Hours {
        // not f64::max: it may keep a -0, which would read as open
        let hours = if hours > 0.0 { hours } else { 0.0 };
        Hours(if resolved { hours } else { -hours })
    }

    pub(super) fn resolved(self) -> bool {
        self.0.is_sign_positive()
    }

    /// (hours, resolved), as the survival statistics take them.
    pub(super) fn pair(self) -> (f64, bool) {
        (self.0.abs(), self.resolved())
    }
}

/// A resolved ticket's hours to resolve, an open one's hours open until `as_of_ms` (its
/// censoring time); none without the times to tell. Row by row, not as a column of hours: at 10M
/// tickets such a column was 80 MB more at the peak.
pub(super) fn hours_or_open_so_far(
    resolved: Option<bool>,
    resolution_hours: Option<f64>,
    opened_ms: Option<i64>,
    as_of_ms: i64,
) -> Option<Hours> {
    let resolved = resolved.unwrap_or(false);
    let hours = if resolved { resolution_hours? } else { (as_of_ms - opened_ms?) as f64 / 3_600_000.0 };
    Some(Hours::new(hours, resolved))
}

/// The samples of every window, one layer of windows at a time (a window lies in one layer),
/// each window's durations allocated at their final size: at 10M tickets, all layers at once
/// and vectors grown by doubling held 0.25 GB more.
pub(super) fn collect_samples(layers: &[LazyFrame], as_of_ms: i64) -> Result<Samples> {
    // looked up once per record or more: a fast hash, not the default's DoS-resistant one
    let mut durations: PlHashMap<i64, Vec<Hours>> = PlHashMap::new();
    let mut priorities: PlHashMap<i64, [u64; 6]> = PlHashMap::new();
    for layer in layers {
        let df = layer
            .clone()
            .select([
                col("grp").cast(DataType::Int64),
                col("is_resolved"),
                col("resolution_hours"),
                col("opened_at"),
                col("priority"),
            ])
            .collect()?;
        let grp = df.column("grp")?.i64()?;
        let resolved = df.column("is_resolved")?.bool()?;
        let resolution = df.column("resolution_hours")?.f64()?;
        let opened = timestamp_ms(&df, "opened_at")?;
        let prio = df.column("priority")?.i32()?;
        let hours = || {
            resolved
                .iter()
                .zip(resolution.iter())
                .zip(opened.iter())
                .map(|((r, h), o)| hours_or_open_so_far(r, h, o, as_of_ms))
        };
        let mut sizes: PlHashMap<i64, usize> = PlHashMap::new();
        for (g, h) in grp.iter().zip(hours()) {
            if let (Some(g), Some(_)) = (g, h) {
                *sizes.entry(g).or_default() += 1;
            }
        }
        for (g, n) in sizes {
            durations.entry(g).or_default().reserve_exact(n);
        }
        for ((g, h), p) in grp.iter().zip(hours()).zip(prio.iter()) {
            let Some(g) = g else { continue };
            if let Some(h) = h {
                durations.entry(g).or_default().push(h);
            }
            priorities.entry(g).or_insert([0; 6])[p.unwrap_or(0).clamp(0, 5) as usize] += 1;
        }
    }
    Ok(Samples { durations, priorities })
}
