//! Proportions: Wilson score interval (Wilson 1927), Newcombe's hybrid score interval for a
//! difference (Newcombe 1998, method 10), the pooled two-proportion z test, and Fisher's exact
//! test when expected counts are small (Cochran's rule; Campbell 2007).

use statrs::stats_tests::fisher::fishers_exact;
use statrs::stats_tests::Alternative;

use super::two_sided_p;

/// Wilson score interval for x successes in n trials. (0, 1) when n = 0; the limits are set to
/// exactly 0 or 1 at x = 0 or x = n, where floating point would leave a residue.
pub fn wilson(x: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let nf = n as f64;
    let p = x as f64 / nf;
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = z * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    let lo = if x == 0 { 0.0 } else { centre - half };
    let hi = if x == n { 1.0 } else { centre + half };
    (lo, hi)
}

/// Newcombe's hybrid score interval for p1 − p2 (Newcombe 1998b, method 10), from the Wilson
/// limits of each proportion.
pub fn newcombe(x1: u64, n1: u64, x2: u64, n2: u64, z: f64) -> (f64, f64) {
    let p1 = if n1 > 0 { x1 as f64 / n1 as f64 } else { 0.0 };
    let p2 = if n2 > 0 { x2 as f64 / n2 as f64 } else { 0.0 };
    let (l1, u1) = wilson(x1, n1, z);
    let (l2, u2) = wilson(x2, n2, z);
    let d = p1 - p2;
    let lower = d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let upper = d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    (lower, upper)
}

/// Pooled two-proportion z test: (z, two-sided p). Undefined when the pooled proportion is 0
/// or 1 (no variance); then z = 0 and p = 1, as Fisher's test gives.
pub fn pooled_z(x1: u64, n1: u64, x2: u64, n2: u64) -> (f64, f64) {
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1f + n2f);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    if se.is_nan() || se <= 0.0 {
        return (0.0, 1.0);
    }
    let z = (x1 as f64 / n1f - x2 as f64 / n2f) / se;
    (z, two_sided_p(z))
}

/// Which test decides a 2×2 comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProportionTest {
    PooledZ,
    FisherExact,
}

impl ProportionTest {
    pub fn name(self) -> &'static str {
        match self {
            ProportionTest::PooledZ => "two-proportion z test",
            ProportionTest::FisherExact => "Fisher's exact test",
        }
    }
}

/// The p-value of the valid test: pooled z when all four expected counts are at least 5
/// (Cochran's rule), else Fisher's exact test (two-sided).
pub fn two_proportion_p(x1: u64, n1: u64, x2: u64, n2: u64) -> (ProportionTest, f64) {
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1f + n2f);
    let expected = [n1f * pooled, n1f * (1.0 - pooled), n2f * pooled, n2f * (1.0 - pooled)];
    if expected.iter().all(|e| *e >= 5.0) {
        (ProportionTest::PooledZ, pooled_z(x1, n1, x2, n2).1)
    } else {
        let p = fishers_exact(&[x1, n1 - x1, x2, n2 - x2], Alternative::TwoSided).unwrap_or(1.0);
        (ProportionTest::FisherExact, p.min(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Z: f64 = 1.959963984540054;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// docs/statistics.md: statsmodels proportion_confint(method="wilson"); the last four are
    /// Newcombe (1998a) Table I, method 3.
    #[test]
    fn wilson_reference_values() {
        let cases = [
            (45, 300, 0.1140324687, 0.1948176111),
            (30, 310, 0.06863018749, 0.1347892685),
            (0, 50, 0.0, 0.07134759913),
            (5, 60, 0.0361204566, 0.1806894202),
            (980, 1000, 0.9693099948, 0.9870163171),
            (950, 1000, 0.9346861798, 0.9618697376),
            (81, 263, 0.2552885199, 0.366209577),
            (15, 148, 0.06238639953, 0.1604872417),
            (0, 20, 0.0, 0.1611251581),
            (1, 29, 0.006113214293, 0.1717552188),
        ];
        for (x, n, lo, hi) in cases {
            let (l, h) = wilson(x, n, Z);
            assert!(close(l, lo, 1e-9) && close(h, hi, 1e-9), "{x}/{n}: ({l}, {h})");
        }
        assert_eq!(wilson(0, 7, Z).0, 0.0, "exactly 0, not a residue");
        assert_eq!(wilson(7, 7, Z).1, 1.0);
    }

    /// docs/statistics.md: statsmodels confint_proportions_2indep(method="newcomb") and
    /// proportions_ztest.
    #[test]
    fn newcombe_and_z_reference_values() {
        let cases = [
            (45, 300, 30, 310, 0.0008921726175, 0.1061474782, 2.001341124, 0.04535564082),
            (0, 50, 5, 60, -0.1806894202, 0.002220951372, -2.089277235, 0.0366827744),
            (980, 1000, 950, 1000, 0.01402605613, 0.04684463701, 3.650132066, 0.000262105511),
        ];
        for (x1, n1, x2, n2, lo, hi, z, p) in cases {
            let (l, h) = newcombe(x1, n1, x2, n2, Z);
            assert!(close(l, lo, 1e-9) && close(h, hi, 1e-9), "{x1}/{n1} vs {x2}/{n2}: ({l}, {h})");
            let (zz, pp) = pooled_z(x1, n1, x2, n2);
            assert!(close(zz, z, 1e-8) && close(pp, p, 1e-10), "z {zz} p {pp}");
            // antisymmetric: swapping the groups negates and swaps the limits
            let (l2, h2) = newcombe(x2, n2, x1, n1, Z);
            assert!(close(l2, -h, 1e-15) && close(h2, -l, 1e-15));
        }
        // 0/40 vs 0/45: the test is undefined (SE = 0): report p = 1.
        let (l, h) = newcombe(0, 40, 0, 45, Z);
        assert!(close(l, -0.07865159873, 1e-9) && close(h, 0.0876216012, 1e-9));
        assert_eq!(pooled_z(0, 40, 0, 45).1, 1.0);
    }

    /// Newcombe (1998b) Table II, method 10, at 4 dp, as quoted in docs/statistics.md.
    #[test]
    fn newcombe_paper_table() {
        let cases = [
            (56, 70, 48, 80, 0.0524, 0.3339),
            (9, 10, 3, 10, 0.1705, 0.8090),
            (6, 7, 2, 7, 0.0582, 0.8062),
            (5, 56, 0, 29, -0.0381, 0.1926),
            (0, 10, 0, 20, -0.1611, 0.2775),
            (0, 10, 0, 10, -0.2775, 0.2775),
            (10, 10, 0, 20, 0.6791, 1.0000),
            (10, 10, 0, 10, 0.6075, 1.0000),
        ];
        for (x1, n1, x2, n2, lo, hi) in cases {
            let (l, h) = newcombe(x1, n1, x2, n2, Z);
            assert!(close(l, lo, 5e-5) && close(h, hi, 5e-5), "{x1}/{n1} − {x2}/{n2}: ({l:.4}, {h:.4})");
        }
    }

    /// docs/statistics.md: expected counts under 5 → Fisher, p = 0.06193461668
    /// (scipy fisher_exact); otherwise the pooled z.
    #[test]
    fn the_valid_test_is_chosen() {
        let (t, p) = two_proportion_p(0, 50, 5, 60);
        assert_eq!(t, ProportionTest::FisherExact);
        assert!(close(p, 0.06193461668, 1e-9), "{p}");
        let (t, p) = two_proportion_p(45, 300, 30, 310);
        assert_eq!(t, ProportionTest::PooledZ);
        assert!(close(p, 0.04535564082, 1e-10));
        assert_eq!(two_proportion_p(0, 40, 0, 45).1, 1.0);
        assert_eq!(two_proportion_p(40, 40, 45, 45).1, 1.0, "all events on both sides");
    }
}
