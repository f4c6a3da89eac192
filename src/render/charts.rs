//! Charts with plotters, each drawn once per backend (SVG and PNG) from plain data, with the
//! embedded DejaVu Sans font so that a machine without fonts still renders text.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};

const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FONT: &str = "sans-serif";

pub const IMPROVED: RGBColor = RGBColor(26, 152, 80);
pub const WORSENED: RGBColor = RGBColor(215, 48, 39);
pub const UNCHANGED: RGBColor = RGBColor(110, 110, 110);
pub const INSUFFICIENT: RGBColor = RGBColor(185, 185, 185);
const SERIES: RGBColor = RGBColor(31, 90, 160);
const LIMITS: RGBColor = RGBColor(150, 170, 200);
const CHANGE: RGBColor = RGBColor(200, 80, 40);
const BEFORE_SHADE: RGBColor = RGBColor(255, 200, 120);
const AFTER_SHADE: RGBColor = RGBColor(140, 200, 255);

fn ensure_font() -> Result<()> {
    static ONCE: Once = Once::new();
    let mut ok = true;
    ONCE.call_once(|| {
        ok = plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
            && plotters::style::register_font(FONT, FontStyle::Bold, FONT_BYTES).is_ok();
    });
    if ok {
        Ok(())
    } else {
        Err(Error::Internal("the embedded font could not be loaded".into()))
    }
}

fn draw_err<E: std::fmt::Debug>(e: E) -> Error {
    Error::Internal(format!("drawing a chart: {e:?}"))
}

/// A chart that can draw itself on any plotters backend.
pub trait Chart {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;
}

/// Draw `chart` into `<stem>.svg` and `<stem>.png` under `dir`.
pub fn write<C: Chart>(dir: &Path, stem: &str, chart: &C) -> Result<()> {
    ensure_font()?;
    let size = chart.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        chart.draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    // Text from the data may hold characters XML 1.0 has no place for (control characters):
    // they would make the whole file unreadable.
    svg.retain(is_xml_char);
    let svg_path = dir.join(format!("{stem}.svg"));
    std::fs::write(&svg_path, svg).map_err(|e| Error::output(&svg_path, e))?;
    let png_path = dir.join(format!("{stem}.png"));
    let root = BitMapBackend::new(&png_path, size).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    chart.draw(&root)?;
    // Drawing went into memory; presenting only encodes and writes the file, so a failure
    // there (a full disk) is one of writing the output.
    root.present().map_err(|e| Error::output(&png_path, std::io::Error::other(format!("{e}"))))?;
    Ok(())
}

/// Whether XML 1.0 allows `c` in a document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The label of a category row at y (the first label at the top), empty between rows.
fn category_label(labels: &[String], y: f64) -> String {
    let i = y.round();
    if (y - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < labels.len() {
        labels[labels.len() - 1 - i as usize].clone()
    } else {
        String::new()
    }
}

/// One panel of a trend chart: a metric over the periods of one process.
pub struct TrendPanel {
    pub title: String,
    pub unit: String,
    /// per period: the value (None when not defined) and the records it is over
    pub values: Vec<Option<f64>>,
    pub counts: Vec<u64>,
    /// a rate (p-chart limits) or a duration (individuals chart limits)
    pub is_rate: bool,
    /// values are shown ×100 (percent)
    pub percent: bool,
}

/// A process's trend: periods on the x axis, SOP changes as markers, stages per SOP version.
pub struct Trend {
    pub title: String,
    pub periods: Vec<String>,
    /// SOP version in force per period (the stage for control limits)
    pub stages: Vec<String>,
    /// (x position in period units, label) of each SOP change
    pub changes: Vec<(f64, String)>,
    /// the latest change's before and after windows, in period units
    pub windows: Option<((f64, f64), (f64, f64))>,
    pub panels: Vec<TrendPanel>,
}

/// Control limits per stage. p-chart: p̄ ± 3·sqrt(p̄(1 − p̄)/n_i), p̄ = Σx/Σn over the stage;
/// individuals chart: x̄ ± 2.66·MR̄ (mean moving range). Returns (centre, low, high) per period.
fn stage_limits(panel: &TrendPanel, stages: &[String]) -> Vec<Option<(f64, f64, f64)>> {
    let n = panel.values.len();
    let mut out = vec![None; n];
    let mut start = 0;
    while start < n {
        let mut end = start;
        while end + 1 < n && stages[end + 1] == stages[start] {
            end += 1;
        }
        let idx: Vec<usize> = (start..=end).filter(|&i| panel.values[i].is_some()).collect();
        if idx.len() >= 2 {
            if panel.is_rate {
                let total: f64 = idx.iter().map(|&i| panel.counts[i] as f64).sum();
                let hits: f64 = idx.iter().map(|&i| panel.values[i].unwrap_or(0.0) * panel.counts[i] as f64).sum();
                if total > 0.0 {
                    let p = hits / total;
                    for &i in &idx {
                        let ni = panel.counts[i].max(1) as f64;
                        let half = 3.0 * (p * (1.0 - p) / ni).sqrt();
                        out[i] = Some((p, (p - half).max(0.0), (p + half).min(1.0)));
                    }
                }
            } else {
                let xs: Vec<f64> = idx.iter().filter_map(|&i| panel.values[i]).collect();
                let mean = xs.iter().sum::<f64>() / xs.len() as f64;
                let mr = xs.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (xs.len() - 1) as f64;
                for &i in &idx {
                    out[i] = Some((mean, (mean - 2.66 * mr).max(0.0), mean + 2.66 * mr));
                }
            }
        }
        start = end + 1;
    }
    out
}

fn draw_trend<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, t: &Trend) -> Result<()> {
    let root = root.titled(&t.title, (FONT, 30).into_font().style(FontStyle::Bold)).map_err(draw_err)?;
    // Two panels a row; the height grows with the rows (four panels: the 1400×900 of before).
    let areas = root.split_evenly((trend_rows(t.panels.len()), 2));
    let n = t.periods.len().max(1);
    let label_every = n.div_ceil(8).max(1);
    for (panel, area) in t.panels.iter().zip(areas.iter()) {
        let scale = if panel.percent { 100.0 } else { 1.0 };
        let limits = stage_limits(panel, &t.stages);
        let ys: Vec<f64> = panel
            .values
            .iter()
            .flatten()
            .map(|v| v * scale)
            .chain(limits.iter().flatten().map(|l| l.2 * scale))
            .collect();
        let ymax = ys.iter().copied().fold(0.0f64, f64::max).max(if panel.percent { 1.0 } else { 0.1 }) * 1.12;
        let xr = -0.5..(n as f64 - 0.5);
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, (FONT, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(xr, 0.0..ymax)
            .map_err(draw_err)?;
        let periods = &t.periods;
        let fmt_x = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-9
                && i >= 0.0
                && (i as usize) < periods.len()
                && (i as usize).is_multiple_of(label_every)
            {
                periods[i as usize].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.min(60))
            .x_label_formatter(&fmt_x)
            .y_desc(panel.unit.as_str())
            .light_line_style(RGBColor(238, 238, 238))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .draw()
            .map_err(draw_err)?;
        if let Some(((b0, b1), (a0, a1))) = t.windows {
            chart
                .draw_series([
                    Rectangle::new([(b0, 0.0), (b1, ymax)], BEFORE_SHADE.mix(0.25).filled()),
                    Rectangle::new([(a0, 0.0), (a1, ymax)], AFTER_SHADE.mix(0.25).filled()),
                ])
                .map_err(draw_err)?;
        }
        // Control limits, one segment per period so that each stage has its own.
        for (i, l) in limits.iter().enumerate() {
            if let Some((c, lo, hi)) = l {
                let (x0, x1) = (i as f64 - 0.5, i as f64 + 0.5);
                chart
                    .draw_series(LineSeries::new([(x0, c * scale), (x1, c * scale)], LIMITS.stroke_width(2)))
                    .map_err(draw_err)?;
                for y in [lo, hi] {
                    chart
                        .draw_series(LineSeries::new([(x0, y * scale), (x1, y * scale)], LIMITS.stroke_width(1)))
                        .map_err(draw_err)?;
                }
            }
        }
        for (x, label) in &t.changes {
            chart.draw_series(LineSeries::new([(*x, 0.0), (*x, ymax)], CHANGE.stroke_width(2))).map_err(draw_err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    label.clone(),
                    (*x + 0.1, ymax * 0.97),
                    (FONT, 14).into_font().color(&CHANGE),
                )))
                .map_err(draw_err)?;
        }
        // The series, broken where a period has no value.
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut runs = Vec::new();
        for (i, v) in panel.values.iter().enumerate() {
            match v {
                Some(v) => run.push((i as f64, v * scale)),
                None => runs.push(std::mem::take(&mut run)),
            }
        }
        runs.push(run);
        for r in runs.into_iter().filter(|r| !r.is_empty()) {
            chart.draw_series(LineSeries::new(r.clone(), SERIES.stroke_width(2))).map_err(draw_err)?;
            chart.draw_series(r.into_iter().map(|p| Circle::new(p, 3, SERIES.filled()))).map_err(draw_err)?;
        }
    }
    Ok(())
}

/// Rows of two panels each.
fn trend_rows(panels: usize) -> usize {
    panels.div_ceil(2).max(1)
}

impl Chart for Trend {
    fn size(&self) -> (u32, u32) {
        // 900 px for two rows: the title and 425 px a row
        (1400, 50 + 425 * trend_rows(self.panels.len()).max(2) as u32)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        draw_trend(root, self)
    }
}

/// One metric of a change: its relative change with interval, and the verdict colour.
pub struct ChangeBar {
    pub label: String,
    /// after − before as % of before, with its interval in the same unit
    pub relative: Option<(f64, Option<(f64, f64)>)>,
    pub color: RGBColor,
}

/// The before/after chart of one SOP change: a forest plot of the relative change per metric.
pub struct ChangeChart {
    pub title: String,
    /// what the bars' intervals are, e.g. `95% CI`
    pub interval: String,
    pub bars: Vec<ChangeBar>,
}

fn draw_change<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &ChangeChart) -> Result<()> {
    let m = c.bars.len().max(1);
    let extent = c
        .bars
        .iter()
        .filter_map(|b| b.relative)
        .flat_map(|(v, ci)| [Some(v.abs()), ci.map(|c| c.0.abs()), ci.map(|c| c.1.abs())])
        .flatten()
        .filter(|v| v.is_finite())
        .fold(10.0f64, f64::max)
        .min(400.0)
        * 1.1;
    let labels: Vec<String> = c.bars.iter().map(|b| b.label.clone()).collect();
    let fmt_y = |y: &f64| category_label(&labels, *y);
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, (FONT, 24).into_font().style(FontStyle::Bold))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(430)
        .build_cartesian_2d(-extent..extent, -0.5..(m as f64 - 0.5))
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(m)
        .y_label_formatter(&fmt_y)
        .x_desc(format!("after vs before, % of the before value ({}; colour = verdict)", c.interval))
        .light_line_style(RGBColor(238, 238, 238))
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(draw_err)?;
    chart
        .draw_series(LineSeries::new([(0.0, -0.5), (0.0, m as f64 - 0.5)], BLACK.stroke_width(1)))
        .map_err(draw_err)?;
    for (k, b) in c.bars.iter().enumerate() {
        let y = (m - 1 - k) as f64;
        let Some((v, ci)) = b.relative else { continue };
        // A relative change cannot fall below −100%.
        let clip = |x: f64| x.clamp((-100.0f64).max(-extent), extent);
        if let Some((lo, hi)) = ci {
            chart
                .draw_series(LineSeries::new([(clip(lo), y), (clip(hi), y)], b.color.stroke_width(3)))
                .map_err(draw_err)?;
        }
        chart.draw_series(std::iter::once(Circle::new((clip(v), y), 7, b.color.filled()))).map_err(draw_err)?;
    }
    Ok(())
}

impl Chart for ChangeChart {
    fn size(&self) -> (u32, u32) {
        (1400, 140 + 70 * self.bars.len() as u32)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        draw_change(root, self)
    }
}

/// One metric of a change against its counterfactual: the observed weekly values, and what the
/// model expected without the change (fitted before it, carried on after it) with its band.
pub struct CounterfactualPanel {
    pub title: String,
    /// the y axis, e.g. `hours`
    pub unit: String,
    /// days since 1970-01-01 (x), observed, expected, band low, band high
    pub points: Vec<(f64, f64, f64, f64, f64)>,
    /// the change, in days since 1970-01-01
    pub change_day: f64,
}

/// The observed series and the counterfactual of each metric of one change, one panel each.
pub struct CounterfactualChart {
    pub title: String,
    pub panels: Vec<CounterfactualPanel>,
}

const EXPECTED: RGBColor = RGBColor(120, 120, 120);
const BAND: RGBColor = RGBColor(215, 215, 215);

fn day_label(day: f64) -> String {
    chrono::DateTime::from_timestamp((day * 86_400.0) as i64, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn draw_counterfactual_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &CounterfactualPanel) -> Result<()> {
    let finite = |v: &f64| v.is_finite();
    let xs = p.points.iter().map(|q| q.0);
    let (x0, x1) = xs.clone().fold((p.change_day, p.change_day), |(a, b), x| (a.min(x), b.max(x + 7.0)));
    let ys: Vec<f64> = p.points.iter().flat_map(|q| [q.1, q.3, q.4]).filter(finite).collect();
    let (lo, hi) = ys.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(*y), b.max(*y)));
    let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (0.0, 1.0) };
    let pad = (hi - lo) * 0.08;
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FONT, 20).into_font().style(FontStyle::Bold))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, (lo - pad)..(hi + pad))
        .map_err(draw_err)?;
    let fmt_x = |x: &f64| day_label(*x);
    chart
        .configure_mesh()
        .x_labels(8)
        .x_label_formatter(&fmt_x)
        .y_desc(p.unit.as_str())
        .light_line_style(RGBColor(238, 238, 238))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(draw_err)?;
    // The band: the counterfactual's spread, as a polygon along the weeks and back.
    let band: Vec<(f64, f64)> = p
        .points
        .iter()
        .map(|q| (q.0, q.3))
        .chain(p.points.iter().rev().map(|q| (q.0, q.4)))
        .filter(|(_, y)| y.is_finite())
        .collect();
    if band.len() > 2 {
        chart.draw_series(std::iter::once(Polygon::new(band, BAND.mix(0.6).filled()))).map_err(draw_err)?;
    }
    let line = |f: fn(&(f64, f64, f64, f64, f64)) -> f64| -> Vec<(f64, f64)> {
        p.points.iter().map(|q| (q.0, f(q))).filter(|(_, y)| y.is_finite()).collect()
    };
    chart
        .draw_series(DashedLineSeries::new(line(|q| q.2), 8, 5, EXPECTED.stroke_width(2)))
        .map_err(draw_err)?
        .label("without the change (model)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], EXPECTED.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(line(|q| q.1), SERIES.stroke_width(2)))
        .map_err(draw_err)?
        .label("observed")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], SERIES.stroke_width(2)));
    chart
        .draw_series(LineSeries::new([(p.change_day, lo - pad), (p.change_day, hi + pad)], CHANGE.stroke_width(2)))
        .map_err(draw_err)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font((FONT, 14))
        .draw()
        .map_err(draw_err)?;
    Ok(())
}

impl Chart for CounterfactualChart {
    fn size(&self) -> (u32, u32) {
        (1400, 60 + 260 * self.panels.len().max(1) as u32)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let titled = root.titled(&self.title, (FONT, 24).into_font().style(FontStyle::Bold)).map_err(draw_err)?;
        for (area, panel) in titled.split_evenly((self.panels.len().max(1), 1)).iter().zip(&self.panels) {
            draw_counterfactual_panel(area, panel)?;
        }
        Ok(())
    }
}

/// The documentation backlog as a ranked bar chart.
pub struct BacklogChart {
    pub title: String,
    /// (label, score, colour by SOP state), highest score first
    pub bars: Vec<(String, f64, RGBColor)>,
}

pub const MISSING: RGBColor = RGBColor(215, 48, 39);
pub const STALE: RGBColor = RGBColor(244, 165, 60);
pub const CURRENT: RGBColor = RGBColor(90, 150, 200);

impl Chart for BacklogChart {
    fn size(&self) -> (u32, u32) {
        (1400, 140 + 55 * self.bars.len().max(1) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let m = self.bars.len().max(1);
        let top = self.bars.iter().map(|b| b.1).fold(0.0f64, f64::max).max(0.01) * 1.1;
        let labels: Vec<String> = self.bars.iter().map(|b| b.0.clone()).collect();
        let fmt_y = |y: &f64| category_label(&labels, *y);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 24).into_font().style(FontStyle::Bold))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(380)
            .build_cartesian_2d(0.0..top, -0.5..(m as f64 - 0.5))
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(m)
            .y_label_formatter(&fmt_y)
            .x_desc("backlog score (weighted volume, risk, pain, inconsistency and SOP state; red: no SOP, orange: stale, blue: current)")
            .light_line_style(RGBColor(238, 238, 238))
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(self.bars.iter().enumerate().map(|(k, (_, score, color))| {
                let y = (m - 1 - k) as f64;
                Rectangle::new([(0.0, y - 0.35), (*score, y + 0.35)], color.filled())
            }))
            .map_err(draw_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_chart_limits_per_stage() {
        let panel = TrendPanel {
            title: String::new(),
            unit: String::new(),
            values: vec![Some(0.1), Some(0.3), Some(0.5), Some(0.5)],
            counts: vec![100, 100, 50, 50],
            is_rate: true,
            percent: true,
        };
        let stages = vec!["1".to_string(), "1".into(), "2".into(), "2".into()];
        let l = stage_limits(&panel, &stages);
        // stage 1: p̄ = 40/200 = 0.2, half-width 3·sqrt(0.2·0.8/100) = 0.12
        let (c, lo, hi) = l[0].unwrap();
        assert!((c - 0.2).abs() < 1e-12 && (lo - 0.08).abs() < 1e-12 && (hi - 0.32).abs() < 1e-12);
        // stage 2: p̄ = 0.5, half-width 3·sqrt(0.25/50)
        let (c2, _, hi2) = l[3].unwrap();
        assert!((c2 - 0.5).abs() < 1e-12 && (hi2 - (0.5 + 3.0 * (0.25f64 / 50.0).sqrt())).abs() < 1e-12);
    }

    #[test]
    fn individuals_chart_limits() {
        let panel = TrendPanel {
            title: String::new(),
            unit: String::new(),
            values: vec![Some(10.0), Some(14.0), Some(12.0)],
            counts: vec![1; 3],
            is_rate: false,
            percent: false,
        };
        let l = stage_limits(&panel, &["a".to_string(), "a".into(), "a".into()]);
        // mean 12, moving ranges 4 and 2 → MR̄ 3, limits 12 ± 7.98
        let (c, lo, hi) = l[1].unwrap();
        assert!((c - 12.0).abs() < 1e-12 && (lo - 4.02).abs() < 1e-12 && (hi - 19.98).abs() < 1e-12);
    }
}
