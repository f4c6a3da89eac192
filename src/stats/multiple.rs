//! Benjamini–Hochberg adjusted p-values (Benjamini & Hochberg 1995).

/// q(i) = min over j ≥ i of min(1, m·p(j)/j), mapped back to the input order.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut q = vec![0.0; m];
    let mut running = 1.0f64;
    for rank in (0..m).rev() {
        let i = order[rank];
        running = running.min(p[i] * m as f64 / (rank + 1) as f64).min(1.0);
        // m·p/m can round below p; an adjusted p-value is never below its own
        q[i] = running.max(p[i].min(1.0));
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_adjusted_p_value_is_below_its_own() {
        let p = [0.8364651912319379; 5];
        assert!(benjamini_hochberg(&p).iter().all(|q| *q >= p[0]));
    }

    /// docs/statistics.md (statsmodels multipletests(method="fdr_bh")).
    #[test]
    fn reference_vectors() {
        let p = [0.205, 0.039, 0.216, 0.001, 0.06, 0.041, 0.212, 0.008, 0.074, 0.042];
        let want = [0.216, 0.084, 0.216, 0.01, 0.1, 0.084, 0.216, 0.04, 0.1057142857, 0.084];
        for (g, w) in benjamini_hochberg(&p).iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "{g} vs {w}");
        }
        // Benjamini & Hochberg (1995): 4 rejections at q = 0.05.
        let bh = [
            0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719, 0.6528,
            0.7590, 1.0,
        ];
        let want = [
            0.0015, 0.003, 0.0095, 0.035625, 0.0603, 0.0638571, 0.0638571, 0.0645, 0.0765, 0.486, 0.581182, 0.714875,
            0.753231, 0.813214, 1.0,
        ];
        let q = benjamini_hochberg(&bh);
        for (g, w) in q.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
        assert_eq!(q.iter().filter(|x| **x < 0.05).count(), 4);
        assert!(benjamini_hochberg(&[]).is_empty());
    }
}
