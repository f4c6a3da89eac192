//! Right-censored durations (tickets still open): the Kaplan–Meier estimate (Kaplan & Meier
//! 1958) with R's median rule (`survival::quantile.survfit`), and the log-rank test
//! (Mantel 1966).

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Kaplan–Meier median of (time, resolved) pairs. A ticket open at time t is at risk at t:
/// events come before censorings at tied times. The product is taken directly (not as
/// exp Σ log, which puts Ŝ a hair above 0.5 where it equals it). Where Ŝ equals 0.5 on a flat
/// step (within sqrt(machine ε)), the median is the midpoint to the next event time, as R does;
/// `None` when Ŝ never reaches 0.5 ("not reached").
pub fn km_median(data: &[(f64, bool)]) -> Option<f64> {
    km_median_of(data.iter().copied())
}

/// [`km_median`] of (time, resolved) records as they come, without a slice of them: sorted as
/// [`km_key`]s, or (times below 0 or NaN) as pairs.
pub fn km_median_of(records: impl Iterator<Item = (f64, bool)> + Clone) -> Option<f64> {
    match records.clone().map(|(t, resolved)| km_key(t, resolved)).collect::<Option<Vec<u64>>>() {
        Some(keys) => km_median_of_keys(keys),
        None => km_median_by_pairs(&records.collect::<Vec<_>>()),
    }
}

/// A duration (at least 0, not NaN) and whether it ended in an event as one integer that sorts
/// as the Kaplan–Meier walk needs them: by time, events before censorings at the same time.
/// (A non-negative f64's bits sort as its value and leave the top bit free.) None for a time
/// below 0 or NaN.
fn km_key(t: f64, resolved: bool) -> Option<u64> {
    // (+ 0.0: -0 becomes 0, which it equals)
    (t >= 0.0).then(|| ((t + 0.0).to_bits() << 1) | u64::from(!resolved))
}

/// [`km_median`] of records given as [`km_key`]s: one sort of 8-byte integers (the records
/// of a busy week, ten thousands of them, were sorted as pairs with a comparison function).
fn km_median_of_keys(mut keys: Vec<u64>) -> Option<f64> {
    keys.sort_unstable();
    let time = |key: u64| f64::from_bits(key >> 1);
    let is_event = |key: u64| key & 1 == 0;
    let mut at_risk = keys.len() as f64;
    let mut s = 1.0;
    // where the records after the current time start
    let mut end = 0;
    for group in keys.chunk_by(|a, b| a >> 1 == b >> 1) {
        end += group.len();
        let t = time(group[0]);
        let deaths = group.iter().filter(|k| is_event(**k)).count() as f64;
        if deaths > 0.0 {
            s *= 1.0 - deaths / at_risk;
            if (s - 0.5).abs() < 1.49e-8 {
                let next = keys[end..].iter().find(|k| is_event(**k)).map(|k| time(*k));
                return Some(next.map_or(t, |n| (t + n) / 2.0));
            }
            if s < 0.5 {
                return Some(t);
            }
        }
        at_risk -= group.len() as f64;
    }
    None
}

/// The same walk over (time, resolved) pairs, for times [`km_key`] cannot take (below 0, NaN).
pub(crate) fn km_median_by_pairs(data: &[(f64, bool)]) -> Option<f64> {
    let mut d = data.to_vec();
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut at_risk = d.len() as f64;
    let mut s = 1.0;
    let event_times: Vec<f64> = {
        let mut v: Vec<f64> = d.iter().filter(|x| x.1).map(|x| x.0).collect();
        v.dedup();
        v
    };
    let mut i = 0;
    while i < d.len() {
        let t = d[i].0;
        let (mut deaths, mut leaving) = (0.0, 0.0);
        while i < d.len() && d[i].0 == t {
            deaths += d[i].1 as u8 as f64;
            leaving += 1.0;
            i += 1;
        }
        if deaths > 0.0 {
            s *= 1.0 - deaths / at_risk;
            if (s - 0.5).abs() < 1.49e-8 {
                let next = event_times.iter().find(|e| **e > t);
                return Some(next.map_or(t, |n| (t + n) / 2.0));
            }
            if s < 0.5 {
                return Some(t);
            }
        }
        at_risk -= leaving;
    }
    None
}

/// Log-rank test of two samples of (time, resolved): (χ², p on 1 df). One sweep over the pooled
/// times in order, so O(n log n): an export whose last weeks are still open has as many distinct
/// times as tickets, and a scan of both samples per time was quadratic.
pub fn log_rank(a: &[(f64, bool)], b: &[(f64, bool)]) -> Option<(f64, f64)> {
    // (time, resolved, in a)
    let mut pooled: Vec<(f64, bool, bool)> =
        a.iter().map(|&(t, e)| (t, e, true)).chain(b.iter().map(|&(t, e)| (t, e, false))).collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    // at risk at the current time: every record whose time is not earlier
    let (mut n1, mut n2) = (a.len() as f64, b.len() as f64);
    let (mut o1, mut e1, mut v) = (0.0, 0.0, 0.0);
    for group in pooled.chunk_by(|x, y| x.0 == y.0) {
        let (mut d1, mut d2, mut left1, mut left2) = (0.0, 0.0, 0.0, 0.0);
        for &(_, resolved, in_a) in group {
            let (d, left) = if in_a { (&mut d1, &mut left1) } else { (&mut d2, &mut left2) };
            *d += f64::from(u8::from(resolved));
            *left += 1.0;
        }
        let (n, d) = (n1 + n2, d1 + d2);
        if d > 0.0 {
            o1 += d1;
            e1 += d * n1 / n;
            if n > 1.0 {
                v += d * (n1 / n) * (1.0 - n1 / n) * (n - d) / (n - 1.0);
            }
        }
        n1 -= left1;
        n2 -= left2;
    }
    if v.is_nan() || v <= 0.0 {
        return None;
    }
    let chi2 = (o1 - e1).powi(2) / v;
    let p = ChiSquared::new(1.0).ok()?.sf(chi2);
    Some((chi2, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k1() -> Vec<(f64, bool)> {
        let t = [2.0, 3.0, 3.0, 5.0, 6.0, 8.0, 8.0, 9.0, 12.0, 14.0, 20.0, 24.0];
        let e = [1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 0];
        t.iter().zip(e).map(|(t, e)| (*t, e == 1)).collect()
    }

    /// docs/statistics.md: K1 median 9 h (lifelines, statsmodels, R agree); K2 (1..6, all
    /// resolved) is 3.5 by R's midpoint rule; K3 never reaches 0.5.
    #[test]
    fn km_medians() {
        assert_eq!(km_median(&k1()), Some(9.0));
        let k2: Vec<(f64, bool)> = (1..=6).map(|t| (t as f64, true)).collect();
        assert_eq!(km_median(&k2), Some(3.5));
        let k3 = [(4.0, true), (6.0, true), (10.0, false), (30.0, false), (30.0, false), (30.0, false), (30.0, false)];
        assert_eq!(km_median(&k3), None);
        // the walk over pairs (negative times) gives the same medians
        for data in [k1(), k2, k3.to_vec()] {
            assert_eq!(km_median_by_pairs(&data), km_median(&data));
        }
    }

    /// Keys sort as (time, events first) pairs do, -0 as 0; no key below 0 or for NaN.
    #[test]
    fn km_keys_sort_by_time_then_events_first() {
        let pairs =
            [(3.5, false), (0.0, true), (3.5, true), (1e9, true), (-0.0, false), (0.25, true), (f64::INFINITY, false)];
        let mut by_keys: Vec<(u64, (f64, bool))> =
            pairs.iter().map(|&(t, e)| (km_key(t, e).unwrap(), (t, e))).collect();
        by_keys.sort_by_key(|k| k.0);
        let mut by_pairs = pairs.to_vec();
        by_pairs.sort_by(|a, b| (a.0 + 0.0).total_cmp(&(b.0 + 0.0)).then(b.1.cmp(&a.1)));
        assert_eq!(by_keys.iter().map(|k| k.1).collect::<Vec<_>>(), by_pairs);
        assert_eq!(km_key(-0.0, true), km_key(0.0, true));
        assert_eq!((km_key(-1.0, true), km_key(f64::NAN, true)), (None, None));
    }

    /// docs/statistics.md: χ² = 3.809672471, p = 0.05095741399 (lifelines logrank_test).
    #[test]
    fn log_rank_reference() {
        let t = [1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0, 7.0, 8.0, 10.0];
        let e = [1, 1, 1, 1, 1, 0, 1, 1, 0, 1];
        let after: Vec<(f64, bool)> = t.iter().zip(e).map(|(t, e)| (*t, e == 1)).collect();
        let (chi2, p) = log_rank(&k1(), &after).unwrap();
        assert!((chi2 - 3.809672471).abs() < 1e-8, "{chi2}");
        assert!((p - 0.05095741399).abs() < 1e-9, "{p}");
    }
}
