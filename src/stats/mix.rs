//! Whether the priority mix moved between two windows: Pearson's χ² test of homogeneity.

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Pearson χ² test of the priority mix before vs after (ignoring priorities neither side has).
pub fn mix_p(before: &[u64; 6], after: &[u64; 6]) -> Option<f64> {
    let cols: Vec<(f64, f64)> =
        (0..6).map(|k| (before[k] as f64, after[k] as f64)).filter(|(a, b)| a + b > 0.0).collect();
    if cols.len() < 2 {
        return None;
    }
    let (nb, na): (f64, f64) = (cols.iter().map(|c| c.0).sum(), cols.iter().map(|c| c.1).sum());
    if nb == 0.0 || na == 0.0 {
        return None;
    }
    let total = nb + na;
    let mut chi2 = 0.0;
    for (b, a) in &cols {
        let col_total = b + a;
        for (obs, row) in [(*b, nb), (*a, na)] {
            let e = row * col_total / total;
            chi2 += (obs - e).powi(2) / e;
        }
    }
    ChiSquared::new((cols.len() - 1) as f64).ok().map(|d| d.sf(chi2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2×3 table worked by hand: before [30, 60, 10], after [10, 60, 30]; expected counts
    /// 20/60/20 each side, χ² = 4·(10²/20) = 20 on 2 df, p = e^(−10) = 4.54e-5.
    #[test]
    fn priority_mix_chi_square() {
        let p = mix_p(&[0, 30, 60, 10, 0, 0], &[0, 10, 60, 30, 0, 0]).unwrap();
        assert!((p - (-10f64).exp()).abs() < 1e-12, "{p}");
        assert!(mix_p(&[0, 5, 0, 0, 0, 0], &[0, 7, 0, 0, 0, 0]).is_none(), "one priority: nothing to compare");
    }
}
