//! Durations: the Mann–Whitney U test (Mann & Whitney 1947) with the normal approximation,
//! tie correction and continuity correction (as scipy `mannwhitneyu(method="asymptotic")` and
//! R `wilcox.test(exact=FALSE, correct=TRUE)`), and the Hodges–Lehmann shift (Hodges & Lehmann
//! 1963) with its distribution-free interval (Moses; normal approximation).
//!
//! The shift is the median of all n1·n2 pairwise differences. With ten thousand tickets a side
//! that is 10^8 numbers, so the order statistics are selected by counting, never materialised.

use super::two_sided_p;

/// Result of a Mann–Whitney test of `x` against `y`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the first sample (scipy's `statistic`)
    pub u1: f64,
    pub z: f64,
    pub p: f64,
}

/// Mann–Whitney U, two-sided. `None` when either sample is empty.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let mut pooled: Vec<(f64, bool)> = x.iter().map(|v| (*v, true)).chain(y.iter().map(|v| (*v, false))).collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = pooled.len();
    let (mut r1, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && pooled[j + 1].0 == pooled[i].0 {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        r1 += avg_rank * pooled[i..=j].iter().filter(|p| p.1).count() as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    let (n1f, n2f, nf) = (n1 as f64, n2 as f64, n as f64);
    let u1 = r1 - n1f * (n1f + 1.0) / 2.0;
    let u2 = n1f * n2f - u1;
    let sigma = (n1f * n2f / 12.0 * ((nf + 1.0) - ties / (nf * (nf - 1.0)))).sqrt();
    if sigma.is_nan() || sigma <= 0.0 {
        // every value tied: no evidence of a shift
        return Some(MannWhitney { u1, z: 0.0, p: 1.0 });
    }
    let u = u1.max(u2);
    let z = (u - n1f * n2f / 2.0 - 0.5) / sigma;
    Some(MannWhitney { u1, z, p: two_sided_p(z).min(1.0) })
}

/// A sorted sample as its distinct values and how often each occurs. Resolution times are
/// rounded (to minutes, often): hundreds of thousands of tickets hold a few thousand distinct
/// values, and the selection below works on those, so ties cost nothing.
struct Runs {
    values: Vec<f64>,
    counts: Vec<u64>,
}

impl Runs {
    fn of(sorted: &[f64]) -> Runs {
        let (mut values, mut counts): (Vec<f64>, Vec<u64>) = (Vec::new(), Vec::new());
        for &v in sorted {
            match (values.last(), counts.last_mut()) {
                (Some(&last), Some(n)) if last == v => *n += 1,
                _ => {
                    values.push(v);
                    counts.push(1);
                }
            }
        }
        Runs { values, counts }
    }

    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Pairwise differences `y_j − x_i` that are ≤ t: (how many, over how many pairs of distinct
/// values). One sweep.
fn count_le(xs: &Runs, ys: &Runs, t: f64) -> (u64, u64) {
    let (mut count, mut pairs) = (0u64, 0u64);
    let (mut j, mut ys_below) = (0usize, 0u64);
    // As x grows, the y with y − x ≤ t (y ≤ x + t) only grow in number.
    for (&x, &nx) in xs.values.iter().zip(&xs.counts) {
        while j < ys.values.len() && ys.values[j] - x <= t {
            ys_below += ys.counts[j];
            j += 1;
        }
        count += nx * ys_below;
        pairs += j as u64;
    }
    (count, pairs)
}

/// The k-th smallest (1-based) of the differences `y_j − x_i`, for sorted samples, exact.
pub fn kth_difference(xs: &[f64], ys: &[f64], k: u64) -> f64 {
    kth_of_runs(&Runs::of(xs), &Runs::of(ys), k)
}

/// Bisects on the value with counting sweeps until few pairs of distinct values remain between
/// the bounds, then lists those (with their multiplicities) and picks.
fn kth_of_runs(xs: &Runs, ys: &Runs, k: u64) -> f64 {
    debug_assert!(k >= 1 && k <= xs.total() * ys.total());
    let (x0, x1) = (xs.values[0], xs.values[xs.values.len() - 1]);
    let (y0, y1) = (ys.values[0], ys.values[ys.values.len() - 1]);
    // count(≤ lo) < k ≤ count(≤ hi); the counts are kept, one sweep per halving.
    let mut lo = y0 - x1 - 1.0;
    let mut hi = y1 - x0;
    let (mut below, mut pairs_below) = (0u64, 0u64);
    let mut pairs_up_to_hi = xs.values.len() as u64 * ys.values.len() as u64;
    let budget = (xs.values.len() + ys.values.len()) as u64 * 4;
    for _ in 0..200 {
        if pairs_up_to_hi - pairs_below <= budget {
            break;
        }
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi {
            break;
        }
        let (c, pairs) = count_le(xs, ys, mid);
        if c >= k {
            hi = mid;
            pairs_up_to_hi = pairs;
        } else {
            lo = mid;
            below = c;
            pairs_below = pairs;
        }
    }
    let mut window: Vec<(f64, u64)> = Vec::new();
    for (&x, &nx) in xs.values.iter().zip(&xs.counts) {
        let start = ys.values.partition_point(|y| y - x <= lo);
        let end = ys.values.partition_point(|y| y - x <= hi);
        window.extend((start..end).map(|j| (ys.values[j] - x, nx * ys.counts[j])));
    }
    window.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut left = k - below;
    for (d, n) in window {
        if left <= n {
            return d;
        }
        left -= n;
    }
    hi
}

/// Hodges–Lehmann estimate of the shift `y − x` (median of the pairwise differences; the mean
/// of the two middle ones when their number is even) and its Moses interval at confidence
/// 1 − α with the normal approximation (no tie correction):
/// C = ⌊n1·n2/2 − z·sqrt(n1·n2·(N+1)/12)⌋, interval = (d(C), d(n1·n2 − C + 1)).
/// `None` for an empty sample; the interval is `None` when C < 1 (samples too small).
pub fn hodges_lehmann(x: &[f64], y: &[f64], z: f64) -> Option<(f64, Option<(f64, f64)>)> {
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let mut xs = x.to_vec();
    let mut ys = y.to_vec();
    xs.sort_by(f64::total_cmp);
    ys.sort_by(f64::total_cmp);
    let m = xs.len() as u64 * ys.len() as u64;
    let (x_runs, y_runs) = (Runs::of(&xs), Runs::of(&ys));
    let kth = |k: u64| kth_of_runs(&x_runs, &y_runs, k);
    let shift = || if m % 2 == 1 { kth(m / 2 + 1) } else { (kth(m / 2) + kth(m / 2 + 1)) / 2.0 };
    let (n1, n2) = (xs.len() as f64, ys.len() as f64);
    let c = (n1 * n2 / 2.0 - z * (n1 * n2 * (n1 + n2 + 1.0) / 12.0).sqrt()).floor();
    let ci = || {
        (c >= 1.0).then(|| {
            let c = c as u64;
            (kth(c), kth(m - c + 1))
        })
    };
    // Large samples (hundreds of thousands of tickets a side): the estimate and the interval
    // are independent searches, so they run side by side.
    if xs.len() + ys.len() < 20_000 {
        return Some((shift(), ci()));
    }
    std::thread::scope(|scope| {
        let interval = scope.spawn(ci);
        let estimate = shift();
        Some((estimate, interval.join().ok()?))
    })
}

/// Type-7 quantile of a sorted sample (R's default, numpy's `linear`).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: [f64; 15] = [4.5, 6.0, 7.25, 8.0, 8.0, 12.5, 15.0, 18.0, 22.0, 24.0, 24.0, 31.5, 40.0, 52.0, 96.0];
    const AFTER: [f64; 12] = [2.0, 3.5, 4.5, 5.0, 6.0, 6.0, 8.0, 9.5, 12.0, 16.0, 24.0, 48.0];
    const Z: f64 = 1.959963984540054;

    /// docs/statistics.md: scipy mannwhitneyu(before, after, method="asymptotic",
    /// use_continuity=True): U1 = 131.5, z = 2.004576437, p = 0.04500834772.
    #[test]
    fn mann_whitney_reference() {
        let r = mann_whitney(&BEFORE, &AFTER).unwrap();
        assert_eq!(r.u1, 131.5);
        assert!((r.z - 2.004576437).abs() < 1e-8, "{}", r.z);
        assert!((r.p - 0.04500834772).abs() < 1e-10, "{}", r.p);
        let swapped = mann_whitney(&AFTER, &BEFORE).unwrap();
        assert_eq!(swapped.u1, 48.5);
        assert!((swapped.p - r.p).abs() < 1e-15, "p does not depend on the order");
    }

    #[test]
    fn mann_whitney_edges() {
        assert!(mann_whitney(&[], &[1.0]).is_none());
        assert_eq!(mann_whitney(&[3.0; 5], &[3.0; 7]).unwrap().p, 1.0, "all tied");
        let same = mann_whitney(&BEFORE, &BEFORE).unwrap();
        assert!(same.p > 0.95, "identical samples: {}", same.p);
        // n = 1 each: defined, and far from significant
        assert!(mann_whitney(&[1.0], &[2.0]).unwrap().p > 0.3);
        // two well separated samples of 200: scipy gives about 3.8e-59, not 0
        let a: Vec<f64> = (0..200).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..200).map(|i| 1000.0 + i as f64).collect();
        let p = mann_whitney(&a, &b).unwrap().p;
        assert!(p > 0.0 && p < 1e-50, "{p}");
    }

    #[test]
    fn large_samples_take_the_parallel_path_to_the_same_answer() {
        // 12,000 a side: the estimate and interval are searched on two threads.
        let x: Vec<f64> = (0..12_000).map(|i| ((i * 7919) % 10_007) as f64 / 100.0).collect();
        let y: Vec<f64> = (0..12_000).map(|i| ((i * 104_729) % 10_009) as f64 / 90.0 + 3.0).collect();
        let (shift, ci) = hodges_lehmann(&x, &y, 1.959963984540054).unwrap();
        let (mut xs, mut ys) = (x.clone(), y.clone());
        xs.sort_by(f64::total_cmp);
        ys.sort_by(f64::total_cmp);
        let m = 12_000u64 * 12_000;
        let serial = (kth_difference(&xs, &ys, m / 2) + kth_difference(&xs, &ys, m / 2 + 1)) / 2.0;
        assert_eq!(shift, serial);
        let (lo, hi) = ci.unwrap();
        assert!(lo < shift && shift < hi, "{lo} < {shift} < {hi}");
    }

    /// docs/statistics.md: HL (after − before) = −7.75 h from d(90), d(91) = −8, −7.5; the
    /// Moses interval with C = 49 is d(49)..d(132) = −19.5 .. 0.
    #[test]
    fn hodges_lehmann_reference() {
        let (shift, ci) = hodges_lehmann(&BEFORE, &AFTER, Z).unwrap();
        assert_eq!(shift, -7.75);
        assert_eq!(ci, Some((-19.5, 0.0)));
        let (back, _) = hodges_lehmann(&AFTER, &BEFORE, Z).unwrap();
        assert_eq!(back, 7.75);
        assert_eq!(hodges_lehmann(&[1.0], &[3.0], Z).unwrap(), (2.0, None), "n = 1: no interval");
    }

    /// The counting selection against brute force, on samples with many ties.
    #[test]
    fn selection_matches_brute_force() {
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) % 50) as f64 / 4.0
        };
        for (n1, n2) in [(1, 1), (3, 9), (40, 25), (120, 200)] {
            let mut x: Vec<f64> = (0..n1).map(|_| next()).collect();
            let mut y: Vec<f64> = (0..n2).map(|_| next()).collect();
            x.sort_by(f64::total_cmp);
            y.sort_by(f64::total_cmp);
            let mut all: Vec<f64> = x.iter().flat_map(|a| y.iter().map(move |b| b - a)).collect();
            all.sort_by(f64::total_cmp);
            for k in [1, all.len() / 3 + 1, all.len() / 2 + 1, all.len()] {
                assert_eq!(kth_difference(&x, &y, k as u64), all[k - 1], "n1={n1} n2={n2} k={k}");
            }
        }
    }

    /// Heavy ties (times in whole minutes, 150,000 tickets a side over 3,000 distinct values):
    /// the selection equals a brute force over the pairs of distinct values, weighted by how
    /// often each occurs, and lists no more pairs than a few per distinct value.
    #[test]
    fn heavy_ties_select_exactly_over_distinct_values() {
        let minutes = |seed: u64, n: usize| {
            let mut state = seed;
            let mut v: Vec<f64> = (0..n)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((state >> 33) % 3_000) as f64 / 60.0
                })
                .collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let (x, y) = (minutes(1, 150_000), minutes(2, 150_000));
        let (xr, yr) = (Runs::of(&x), Runs::of(&y));
        assert!(xr.values.len() <= 3_000 && yr.total() == 150_000);
        let mut weighted: Vec<(f64, u64)> = Vec::new();
        for (a, na) in xr.values.iter().zip(&xr.counts) {
            for (b, nb) in yr.values.iter().zip(&yr.counts) {
                weighted.push((b - a, na * nb));
            }
        }
        weighted.sort_by(|p, q| p.0.total_cmp(&q.0));
        let brute = |k: u64| {
            let mut left = k;
            weighted
                .iter()
                .find(|(_, n)| {
                    if left <= *n {
                        true
                    } else {
                        left -= n;
                        false
                    }
                })
                .unwrap()
                .0
        };
        let m = 150_000u64 * 150_000;
        for k in [1, 7, m / 3, m / 2, m / 2 + 1, m - 1, m] {
            assert_eq!(kth_difference(&x, &y, k), brute(k), "k = {k}");
        }
        // Every pair of distinct values in the smallest interval the counting reaches is listed
        // once; its size is bounded by the distinct values, not by the 2.25e10 pairs.
        let (_, pairs) = count_le(&xr, &yr, f64::INFINITY);
        assert_eq!(pairs, (xr.values.len() * yr.values.len()) as u64);
    }

    /// docs/statistics.md: type 7 medians and p90.
    #[test]
    fn type_7_quantiles() {
        assert_eq!(quantile_sorted(&BEFORE, 0.5), Some(18.0));
        assert!((quantile_sorted(&BEFORE, 0.9).unwrap() - 47.2).abs() < 1e-12);
        assert_eq!(quantile_sorted(&AFTER, 0.5), Some(7.0));
        assert!((quantile_sorted(&AFTER, 0.9).unwrap() - 23.2).abs() < 1e-12);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 0.5), Some(3.5));
        assert_eq!(quantile_sorted(&[], 0.5), None);
    }
}
