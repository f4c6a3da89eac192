//! Statistics for before/after comparisons (docs/statistics.md): pure functions, no I/O. Each
//! formula names its source; the tests compare with published values (R, statsmodels, scipy)
//! written into them with where they come from (docs/statistics.md, "Reference values").

pub mod its;
pub mod mix;
pub mod multiple;
pub mod poisson;
pub mod proportions;
pub mod ranks;
pub mod survival;

use statrs::distribution::{ContinuousCDF, Normal};

/// Φ⁻¹(1 − α/2): the two-sided normal quantile, 1.959963984540054 for α = 0.05.
pub fn z_two_sided(alpha: f64) -> f64 {
    standard_normal().inverse_cdf(1.0 - alpha / 2.0)
}

/// Two-sided p-value of a standard normal statistic, from the survival function so that it
/// does not underflow to 0 (1 − Φ(10) is 0 in floating point; the survival function is 7.6e-24).
pub fn two_sided_p(z: f64) -> f64 {
    (2.0 * standard_normal().sf(z.abs())).min(1.0)
}

/// Two-sided p-value of a Student t statistic with `df` degrees of freedom.
pub fn two_sided_t_p(t: f64, df: f64) -> f64 {
    match statrs::distribution::StudentsT::new(0.0, 1.0, df) {
        Ok(dist) => (2.0 * dist.sf(t.abs())).min(1.0),
        Err(_) => two_sided_p(t),
    }
}

/// The two-sided Student t quantile t(1 − α/2; df).
pub fn t_two_sided(alpha: f64, df: f64) -> f64 {
    match statrs::distribution::StudentsT::new(0.0, 1.0, df) {
        Ok(dist) => dist.inverse_cdf(1.0 - alpha / 2.0),
        Err(_) => z_two_sided(alpha),
    }
}

fn standard_normal() -> Normal {
    Normal::standard()
}

/// Properties every input must keep, over generated samples: resolution times rounded to the
/// minute (many ties, as exports have), open tickets, small and lopsided samples.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::proportions::{newcombe, wilson};
    use super::ranks::{hodges_lehmann, mann_whitney};
    use super::survival::{km_median, km_median_by_pairs, log_rank};

    fn hours() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec((0u32..3000).prop_map(|m| f64::from(m) / 60.0), 1..40)
    }

    fn durations() -> impl Strategy<Value = Vec<(f64, bool)>> {
        prop::collection::vec(((0u32..600).prop_map(|m| f64::from(m) / 10.0), prop::bool::weighted(0.8)), 1..40)
    }

    /// `v` in another order, chosen by `seed`.
    fn reordered<T: Clone>(v: &[T], seed: u64) -> Vec<T> {
        let mut keyed: Vec<(u64, T)> = v
            .iter()
            .enumerate()
            .map(|(i, x)| ((i as u64 + 1).wrapping_mul(seed | 1).rotate_left(17) ^ seed, x.clone()))
            .collect();
        keyed.sort_by_key(|k| k.0);
        keyed.into_iter().map(|k| k.1).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
    }

    proptest! {
        #[test]
        fn mann_whitney_is_symmetric_and_ignores_order(x in hours(), y in hours(), seed in any::<u64>()) {
            let xy = mann_whitney(&x, &y).unwrap();
            let yx = mann_whitney(&y, &x).unwrap();
            prop_assert!(close(xy.p, yx.p) && close(xy.z.abs(), yx.z.abs()), "{xy:?} {yx:?}");
            prop_assert!(close(xy.u1 + yx.u1, (x.len() * y.len()) as f64));
            let shuffled = mann_whitney(&reordered(&x, seed), &reordered(&y, seed)).unwrap();
            prop_assert!(close(xy.p, shuffled.p));
            prop_assert!((0.0..=1.0).contains(&xy.p));
        }

        #[test]
        fn hodges_lehmann_flips_sign_and_its_interval_holds_the_estimate(x in hours(), y in hours(), seed in any::<u64>()) {
            let z = super::z_two_sided(0.05);
            let (shift, ci) = hodges_lehmann(&x, &y, z).unwrap();
            let (back, back_ci) = hodges_lehmann(&y, &x, z).unwrap();
            prop_assert!(close(shift, -back), "{shift} vs {back}");
            prop_assert_eq!(ci.is_some(), back_ci.is_some());
            if let (Some((lo, hi)), Some((blo, bhi))) = (ci, back_ci) {
                prop_assert!(lo <= shift && shift <= hi, "{lo} <= {shift} <= {hi}");
                prop_assert!(close(lo, -bhi) && close(hi, -blo));
            }
            let (again, _) = hodges_lehmann(&reordered(&x, seed), &reordered(&y, seed), z).unwrap();
            prop_assert!(close(shift, again));
        }

        #[test]
        fn wilson_and_newcombe_intervals_hold_their_estimates(x1 in 0u64..300, f1 in 0u64..300, x2 in 0u64..300, f2 in 0u64..300) {
            let z = super::z_two_sided(0.05);
            let (n1, n2) = (x1 + f1, x2 + f2);
            prop_assume!(n1 > 0 && n2 > 0);
            let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
            let (lo, hi) = wilson(x1, n1, z);
            prop_assert!(0.0 <= lo && lo <= p1 + 1e-12 && p1 <= hi + 1e-12 && hi <= 1.0);
            let (dlo, dhi) = newcombe(x1, n1, x2, n2, z);
            prop_assert!(dlo <= p1 - p2 + 1e-12 && p1 - p2 <= dhi + 1e-12);
            let (rlo, rhi) = newcombe(x2, n2, x1, n1, z);
            prop_assert!(close(dlo, -rhi) && close(dhi, -rlo), "swapping the groups mirrors the interval");
        }

        #[test]
        fn log_rank_is_symmetric_and_ignores_order(a in durations(), b in durations(), seed in any::<u64>()) {
            let ab = log_rank(&a, &b);
            let ba = log_rank(&b, &a);
            prop_assert_eq!(ab.is_some(), ba.is_some());
            if let (Some((c1, p1)), Some((c2, p2))) = (ab, ba) {
                prop_assert!(close(c1, c2) && close(p1, p2));
                let (c3, _) = log_rank(&reordered(&a, seed), &reordered(&b, seed)).unwrap();
                prop_assert!(close(c1, c3));
            }
            prop_assert_eq!(km_median(&a), km_median(&reordered(&a, seed)));
            // the sort by integer keys walks as the sort by pairs does
            prop_assert_eq!(km_median(&a), km_median_by_pairs(&a));
        }
    }
}

#[cfg(test)]
mod t_tests {
    use super::*;

    /// scipy 1.17.1: `2 * stats.t.sf(2.5, 12)`, `2 * stats.t.sf(1.96, 200)`, `stats.t.ppf(0.975, 12)`.
    #[test]
    fn student_t_matches_scipy() {
        assert!((two_sided_t_p(2.5, 12.0) - 0.02791539957132524).abs() < 1e-10);
        assert!((two_sided_t_p(-1.96, 200.0) - 0.051384840845813295).abs() < 1e-10);
        assert!((t_two_sided(0.05, 12.0) - 2.1788128296672284).abs() < 1e-9);
    }
}
