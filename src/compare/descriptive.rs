//! The descriptive test of each change's windows, by kind of metric: proportions, durations,
//! rates per exposure.

use super::*;

/// The `grp` of a change's before and after windows.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sides {
    pub(super) before: i64,
    pub(super) after: i64,
}

/// What the windows of every change hold: the query results, the samples of tickets and the
/// change requests in them.
pub(super) struct WindowData {
    pub(super) values: WindowValues,
    pub(super) samples: Samples,
    /// grp → change requests in that window
    pub(super) change_counts: HashMap<i64, u64>,
}

impl WindowData {
    pub(super) fn collect(
        att: &Attributed,
        cfg: &Config,
        queries: &[Query],
        changes: &[Change],
        as_of_ms: i64,
    ) -> Result<Self> {
        // The windows' values of the other metrics are never read (measured at 10M tickets:
        // analyst_cv.sql on the windows peaked at 1.65 GB).
        let queries = &metrics::feeding_comparisons(queries);
        // The windowed tables feed both the SQL and the samples: build each once.
        // The windows of the tickets are views of the table (a `grp` column per layer of
        // windows, filtered as read); change requests and audit findings are few.
        let read = att.tickets.clone().lazy().select(columns_read(&att.tickets, queries)).collect();
        let ticket_layers = windowed(&read?, changes, queries)?;
        let change_records = derive_change_columns(&att.changes, cfg).collect()?;
        let change_layers = windowed(&change_records, changes, &[])?;
        let audit_layers = windowed(&att.audits, changes, &[])?;
        let change_records = stacked(change_layers.clone())?;
        crate::diag::trace("comparison windows cut");
        // A window lies in one layer: the queries run layer by layer, each on a filtered copy
        // of its layer's records only (measured at 10M tickets: all layers at once peaked at
        // 1.51 GB in error_rate.sql).
        let parts = ticket_layers.iter().cloned().zip(change_layers).zip(audit_layers).map(|((t, c), a)| (t, c, a));
        let values = collect_values(&metrics::run_queries_in_parts(queries, cfg, parts.collect())?)?;
        crate::diag::trace("window queries run");
        let samples = collect_samples(&ticket_layers, as_of_ms)?;
        crate::diag::trace("comparison samples collected");
        let change_counts = change_records
            .select([col("grp").cast(DataType::Int64)])
            .collect()?
            .column("grp")?
            .i64()?
            .iter()
            .flatten()
            .fold(HashMap::<i64, u64>::new(), |mut m, g| {
                *m.entry(g).or_default() += 1;
                m
            });
        Ok(WindowData { values, samples, change_counts })
    }

    /// Caveats that concern every metric of a change: a shift in the priority mix, change
    /// requests on the process during the windows.
    pub(super) fn shared_caveats(&self, sides: Sides) -> Vec<String> {
        let mut shared = Vec::new();
        let empty = [0u64; 6];
        let priorities = |g: i64| self.samples.priorities.get(&g).unwrap_or(&empty);
        if let Some(p) = mix_p(priorities(sides.before), priorities(sides.after)) {
            if p < 0.01 {
                shared.push(format!("priority mix changed (chi-square p = {p:.2e}); compare per priority"));
            }
        }
        let count = |g: i64| self.change_counts.get(&g).copied().unwrap_or(0);
        let concurrent = count(sides.before) + count(sides.after);
        if concurrent > 0 {
            shared.push(format!("{concurrent} change request(s) on this process during the windows"));
        }
        shared
    }
}

/// The test settings of a run; each test fills a row and returns the records it needs a side.
pub(super) struct Tests {
    pub(super) z: f64,
    pub(super) alpha: f64,
    pub(super) min_n: u64,
}

impl Tests {
    /// Two proportions: the two-proportion test (Fisher's when counts are small) with Newcombe's
    /// interval for the difference.
    pub(super) fn proportion(&self, row: &mut Comparison, values: &WindowValues, sides: Sides) -> u64 {
        let n = &row.metric.n;
        let (nb, na) = (values.count(n, sides.before), values.count(n, sides.after));
        row.before_n = nb;
        row.after_n = na;
        if nb >= self.min_n && na >= self.min_n {
            let xb = (row.before_value.unwrap_or(0.0) * nb as f64).round() as u64;
            let xa = (row.after_value.unwrap_or(0.0) * na as f64).round() as u64;
            let (test, p) = proportions::two_proportion_p(xa, na, xb, nb);
            row.delta = Some(xa as f64 / na as f64 - xb as f64 / nb as f64);
            row.ci = Some(proportions::newcombe(xa, na, xb, nb, self.z));
            row.p_value = Some(p);
            row.test = test.name().to_string();
        }
        self.min_n
    }

    /// Durations: Mann–Whitney U with the Hodges–Lehmann shift, on the resolved tickets; open
    /// tickets are counted and, where many, compared by Kaplan–Meier medians and the log-rank test.
    pub(super) fn duration(&self, row: &mut Comparison, samples: &Samples, sides: Sides) -> u64 {
        let side = |g: i64| samples.durations.get(&g).map_or(&[][..], Vec::as_slice);
        let (sb, sa) = (side(sides.before), side(sides.after));
        let resolved = |s: &[Hours]| s.iter().filter(|h| h.resolved()).map(|h| h.0).collect::<Vec<f64>>();
        let (rb, ra) = (resolved(sb), resolved(sa));
        row.before_n = rb.len() as u64;
        row.after_n = ra.len() as u64;
        let (ob, oa) = (sb.len() - rb.len(), sa.len() - ra.len());
        if ob + oa > 0 {
            let share = |o: usize, n: usize| if n == 0 { 0.0 } else { o as f64 / n as f64 };
            let mut note = format!("{ob} open before, {oa} open after (not in the medians)");
            if share(ob, sb.len()) > 0.1 || share(oa, sa.len()) > 0.1 {
                // as (hours, resolved) pairs only here: for the largest windows a copy of both
                // sides at 16 bytes a ticket
                let pairs = |s: &[Hours]| s.iter().map(|h| h.pair()).collect::<Vec<(f64, bool)>>();
                let (sb, sa) = (pairs(sb), pairs(sa));
                let km =
                    |s: &[(f64, bool)]| survival::km_median(s).map_or("not reached".into(), |m| format!("{m:.2} h"));
                let lr =
                    survival::log_rank(&sa, &sb).map(|(_, p)| format!(", log-rank p = {p:.3}")).unwrap_or_default();
                note.push_str(&format!(
                    "; over 10% open, so resolved-only medians favour the later window: Kaplan-Meier medians {} before, {} after{lr}",
                    km(&sb),
                    km(&sa)
                ));
            }
            row.caveats.push(note);
        }
        if rb.len() as u64 >= self.min_n && ra.len() as u64 >= self.min_n {
            if let (Some(mw), Some((shift, ci))) =
                (ranks::mann_whitney(&ra, &rb), ranks::hodges_lehmann(&rb, &ra, self.z))
            {
                row.delta = Some(shift);
                row.ci = ci;
                row.p_value = Some(mw.p);
                row.test = "Mann-Whitney U; delta is the Hodges-Lehmann shift".into();
            }
        }
        self.min_n
    }

    /// Events per exposure: the exact conditional Poisson test, with at least 100 of exposure a side.
    pub(super) fn rate(
        &self,
        row: &mut Comparison,
        rate: &RateOf,
        queries: &[Query],
        values: &WindowValues,
        sides: Sides,
    ) -> u64 {
        let need = self.min_n.max(100);
        let (tb, ta) = (values.count(&rate.exposure, sides.before), values.count(&rate.exposure, sides.after));
        let (yb, ya) = (values.count(&rate.events, sides.before), values.count(&rate.events, sides.after));
        row.before_n = tb;
        row.after_n = ta;
        if tb >= need && ta >= need {
            let attainable = poisson::attainable_p(ya + yb, ta as f64, tb as f64);
            match poisson::exact_rate_ratio(ya, ta as f64, yb, tb as f64, self.alpha) {
                Some(r) if attainable < self.alpha => {
                    let before_rate = rate.per * yb as f64 / tb as f64;
                    row.delta = Some(rate.per * ya as f64 / ta as f64 - before_rate);
                    // The rate-ratio interval, expressed as after − before at the before rate.
                    row.ci = Some(((r.ci.0 - 1.0) * before_rate, (r.ci.1 - 1.0) * before_rate));
                    row.p_value = Some(r.p);
                    row.test = format!("exact conditional Poisson test (rate ratio {:.3})", r.ratio);
                }
                _ => row.caveats.push(format!(
                    "{} {} in both windows: too few for any split to be significant",
                    ya + yb,
                    metrics::metric(queries, &rate.events).map_or(rate.events.as_str(), |e| e.of.as_str())
                )),
            }
        }
        need
    }
}
