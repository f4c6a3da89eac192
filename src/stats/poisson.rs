//! Counts per exposure: the exact conditional test of two Poisson rates and its interval for
//! the rate ratio. Conditional on N = y1 + y2, y1 ~ Binomial(N, π) with π = t1·RR/(t1·RR + t2);
//! the p-value is the two-sided "minlike" binomial test (R `binom.test`, `poisson.test`), the
//! interval the Clopper–Pearson limits for π (Clopper & Pearson 1934) transformed to RR, exactly
//! as R's `poisson.test`.

use statrs::distribution::{Beta, Binomial, ContinuousCDF, Discrete};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateComparison {
    /// (y1/t1) / (y2/t2)
    pub ratio: f64,
    pub p: f64,
    /// interval for the ratio; the upper limit is infinite when y2 = 0
    pub ci: (f64, f64),
}

/// Compare y1 events over exposure t1 with y2 over t2. `None` when no event happened at all
/// (N = 0: nothing to test) or an exposure is not positive.
pub fn exact_rate_ratio(y1: u64, t1: f64, y2: u64, t2: f64, alpha: f64) -> Option<RateComparison> {
    let n = y1 + y2;
    if n == 0 || !(t1 > 0.0 && t2 > 0.0) {
        return None;
    }
    let pi0 = t1 / (t1 + t2);
    let p = minlike_p(y1, n, pi0);
    let pi_lo = if y1 == 0 { 0.0 } else { Beta::new(y1 as f64, (n - y1 + 1) as f64).ok()?.inverse_cdf(alpha / 2.0) };
    let pi_hi =
        if y1 == n { 1.0 } else { Beta::new((y1 + 1) as f64, (n - y1) as f64).ok()?.inverse_cdf(1.0 - alpha / 2.0) };
    let to_ratio = |pi: f64| if pi >= 1.0 { f64::INFINITY } else { pi / (1.0 - pi) * t2 / t1 };
    let ratio = if y2 == 0 { f64::INFINITY } else { (y1 as f64 / t1) / (y2 as f64 / t2) };
    Some(RateComparison { ratio, p, ci: (to_ratio(pi_lo), to_ratio(pi_hi)) })
}

/// Two-sided binomial test p-value, "minlike": the total probability of outcomes no more likely
/// than the observed one (relative tolerance 1e-7, as R and scipy).
pub fn minlike_p(k: u64, n: u64, pi: f64) -> f64 {
    let Ok(b) = Binomial::new(pi, n) else { return 1.0 };
    let observed = b.pmf(k);
    let limit = observed * (1.0 + 1e-7);
    let total: f64 = (0..=n).map(|i| b.pmf(i)).filter(|p| *p <= limit).sum();
    total.min(1.0)
}

/// The smallest p-value any split of N events could reach: if it is not below α, no data of
/// this size can show a difference (docs/statistics.md, attainable significance).
pub fn attainable_p(n: u64, t1: f64, t2: f64) -> f64 {
    let pi0 = t1 / (t1 + t2);
    minlike_p(0, n, pi0).min(minlike_p(n, n, pi0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/statistics.md: R poisson.test(c(y1, y2), c(t1, t2)); p also statsmodels
    /// test_poisson_2indep(method="exact-cond").
    #[test]
    fn reference_values() {
        let cases = [
            (12, 4000.0, 4, 4500.0, 3.375, 0.04163101107, 1.022885978, 14.35763752),
            (0, 2000.0, 5, 2500.0, 0.0, 0.07026367932, 0.0, 1.364098881),
            (45, 12000.0, 40, 10000.0, 0.9375, 0.8277486807, 0.5986492893, 1.472889887),
            (4, 4500.0, 12, 4000.0, 0.2962962963, 0.04163101107, 0.06964934157, 0.9776260708),
        ];
        for (y1, t1, y2, t2, rr, p, lo, hi) in cases {
            let r = exact_rate_ratio(y1, t1, y2, t2, 0.05).unwrap();
            assert!((r.ratio - rr).abs() < 1e-9, "{y1}/{t1} vs {y2}/{t2}: RR {}", r.ratio);
            assert!((r.p - p).abs() < 1e-9, "p {}", r.p);
            assert!((r.ci.0 - lo).abs() < 1e-6 * lo.max(1e-3) && (r.ci.1 - hi).abs() < 1e-6 * hi, "ci {:?}", r.ci);
        }
    }

    #[test]
    fn no_events_and_attainability() {
        assert!(exact_rate_ratio(0, 100.0, 0, 100.0, 0.05).is_none());
        assert_eq!(exact_rate_ratio(3, 100.0, 0, 100.0, 0.05).unwrap().ci.1, f64::INFINITY);
        // N = 5 at π0 = 0.5 can reach no better than 0.0625; N = 6 reaches 0.03125.
        assert!((attainable_p(5, 1.0, 1.0) - 0.0625).abs() < 1e-12);
        assert!((attainable_p(6, 1.0, 1.0) - 0.03125).abs() < 1e-12);
    }
}
