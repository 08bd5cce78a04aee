//! Plots as self-contained SVG text (no scripts, no fonts to fetch), for the HTML report and
//! the surrogate's validation plot. Each function takes the data and returns one `<svg>`
//! element; sizes are fixed so reports look alike from model to model.

use std::fmt::Write;

const W: f64 = 640.0;
/// Margins: left (axis labels), top (title), right, bottom.
const L: f64 = 150.0;
const T: f64 = 28.0;
const R: f64 = 20.0;
const B: f64 = 36.0;
/// Colours for series, in order (colour-blind safe: Okabe and Ito's palette).
pub const PALETTE: [&str; 6] = [
    "#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9",
];

/// Text safe inside SVG and HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn open(h: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" \
         viewBox=\"0 0 {W} {h}\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\
         <title>{t}</title><text x=\"{x}\" y=\"16\" font-size=\"13\" font-weight=\"bold\" \
         text-anchor=\"middle\">{t}</text>",
        x = W / 2.0,
        t = escape(title)
    )
}

/// A short number: 12, 3.4k, 1.2M.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == a.trunc() {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Horizontal bars, one row per item: `(label, [value per series])`, series named in
/// `legend`; `max` fixes the scale (e.g. 100 for percentages), else the largest value.
pub fn bars(
    title: &str,
    legend: &[&str],
    items: &[(String, Vec<f64>)],
    max: Option<f64>,
) -> String {
    let series = legend.len().max(1);
    let row = 6.0 + 12.0 * series as f64;
    let h = T + B + row * items.len().max(1) as f64;
    let top = max.unwrap_or_else(|| {
        items
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(0.0, f64::max)
    });
    let top = if top > 0.0 { top } else { 1.0 };
    let span = W - L - R - 50.0;
    let mut s = open(h, title);
    for (k, (label, vals)) in items.iter().enumerate() {
        let y0 = T + row * k as f64;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            L - 6.0,
            y0 + row / 2.0 + 4.0,
            escape(label)
        );
        for (j, v) in vals.iter().enumerate() {
            let w = (v.max(0.0) / top).min(1.0) * span;
            let y = y0 + 3.0 + 12.0 * j as f64;
            let _ = write!(
                s,
                "<rect x=\"{L}\" y=\"{y}\" width=\"{w:.1}\" height=\"10\" fill=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{}\">{}</text>",
                PALETTE[j % PALETTE.len()],
                L + w + 4.0,
                y + 9.0,
                short(*v)
            );
        }
    }
    let _ = write!(
        s,
        "<line x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{}\" stroke=\"#444\"/>",
        h - B
    );
    legend_row(&mut s, legend, h - 12.0);
    s + "</svg>"
}

fn legend_row(s: &mut String, legend: &[&str], y: f64) {
    if legend.len() < 2 {
        return;
    }
    let mut x = L;
    for (j, name) in legend.iter().enumerate() {
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{y}\">{}</text>",
            y - 9.0,
            PALETTE[j % PALETTE.len()],
            x + 14.0,
            escape(name)
        );
        x += 24.0 + 7.0 * name.len() as f64;
    }
}

/// A plot area mapping data to pixels, linear or logarithmic per axis.
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
    log: bool,
    h: f64,
}

impl Frame {
    fn t(&self, v: f64) -> f64 {
        if self.log {
            v.max(1.0).log10()
        } else {
            v
        }
    }
    fn px(&self, v: f64) -> f64 {
        let (a, b) = (self.t(self.x.0), self.t(self.x.1));
        L + (self.t(v) - a) / (b - a).max(1e-12) * (W - L - R)
    }
    fn py(&self, v: f64) -> f64 {
        let (a, b) = (self.t(self.y.0), self.t(self.y.1));
        self.h - B - (self.t(v) - a) / (b - a).max(1e-12) * (self.h - T - B)
    }
    /// Axes with a few ticks and their labels.
    fn axes(&self, s: &mut String, xlabel: &str, ylabel: &str) {
        let (x0, x1, y0, y1) = (L, W - R, T, self.h - B);
        let _ = write!(
            s,
            "<rect x=\"{x0}\" y=\"{y0}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>",
            x1 - x0,
            y1 - y0
        );
        for v in self.ticks(self.x) {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                self.px(v),
                y1 + 13.0,
                short(v)
            );
        }
        for v in self.ticks(self.y) {
            let _ = write!(
                s,
                "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                x0 - 4.0,
                self.py(v) + 4.0,
                short(v)
            );
        }
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
             <text x=\"14\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {})\">{}</text>",
            (x0 + x1) / 2.0,
            self.h - 6.0,
            escape(xlabel),
            (y0 + y1) / 2.0,
            (y0 + y1) / 2.0,
            escape(ylabel)
        );
    }
    fn ticks(&self, (a, b): (f64, f64)) -> Vec<f64> {
        if self.log {
            let (lo, hi) = (a.max(1.0).log10().floor() as i32, b.log10().ceil() as i32);
            return (lo..=hi)
                .map(|e| 10f64.powi(e))
                .filter(|v| *v >= a * 0.999 && *v <= b * 1.001)
                .collect();
        }
        let step = nice_step((b - a) / 5.0);
        let mut v = (a / step).ceil() * step;
        let mut out = Vec::new();
        while v <= b + 1e-9 && out.len() < 12 {
            out.push(v);
            v += step;
        }
        out
    }
}

fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let e = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * e)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * e)
}

/// Predicted against actual on log-log axes with the line y = x and a ±`band` (fraction)
/// corridor; points coloured by group (`groups` names them, points index into it).
pub fn scatter(
    title: &str,
    (xlabel, ylabel): (&str, &str),
    groups: &[String],
    points: &[(f64, f64, usize)],
    band: f64,
) -> String {
    let h = 420.0;
    let hi = points.iter().flat_map(|p| [p.0, p.1]).fold(10.0, f64::max) * 1.2;
    let f = Frame {
        x: (1.0, hi),
        y: (1.0, hi),
        log: true,
        h,
    };
    let mut s = open(h, title);
    f.axes(&mut s, xlabel, ylabel);
    for (k, dash) in [(1.0, ""), (1.0 + band, "4 3"), (1.0 / (1.0 + band), "4 3")] {
        let _ = write!(
            s,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#888\" \
             stroke-dasharray=\"{dash}\"/>",
            f.px(1.0),
            f.py(k),
            f.px(hi / k.max(1.0)),
            f.py(hi * k.min(1.0))
        );
    }
    for &(x, y, g) in points {
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\" fill-opacity=\"0.7\"/>",
            f.px(x),
            f.py(y),
            PALETTE[g % PALETTE.len()]
        );
    }
    let names: Vec<&str> = groups.iter().map(String::as_str).collect();
    legend_row(&mut s, &names, T + 16.0);
    s + "</svg>"
}

/// A spike raster: a dot per `(step, neuron)`.
pub fn raster(title: &str, steps: usize, neurons: usize, spikes: &[(u32, u32)]) -> String {
    let h = 120.0 + 2.5 * neurons.min(64) as f64;
    let f = Frame {
        x: (0.0, steps.max(1) as f64),
        y: (0.0, neurons.max(1) as f64),
        log: false,
        h,
    };
    let mut s = open(h, title);
    f.axes(&mut s, "timestep", "neuron");
    let dw = ((W - L - R) / steps.max(1) as f64).clamp(1.0, 6.0);
    let dh = ((h - T - B) / neurons.max(1) as f64).clamp(1.0, 6.0);
    for &(t, n) in spikes {
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{dw:.1}\" height=\"{dh:.1}\" fill=\"#222\"/>",
            f.px(t as f64),
            f.py(n as f64 + 1.0)
        );
    }
    s + "</svg>"
}

/// Lines over timesteps, one per `(label, values)`, with a dashed level per `(label, value)`
/// in `levels` (thresholds).
pub fn lines(title: &str, series: &[(String, Vec<i64>)], levels: &[(String, i64)]) -> String {
    let h = 240.0;
    let steps = series.iter().map(|s| s.1.len()).max().unwrap_or(1).max(2);
    let all = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .chain(levels.iter().map(|l| l.1));
    let (lo, hi) = all.fold((0i64, 1i64), |(a, b), v| (a.min(v), b.max(v)));
    let f = Frame {
        x: (0.0, (steps - 1) as f64),
        y: (lo as f64, hi as f64),
        log: false,
        h,
    };
    let mut s = open(h, title);
    f.axes(&mut s, "timestep", "value (integer)");
    for (j, (_, v)) in series.iter().enumerate() {
        let pts: Vec<String> = v
            .iter()
            .enumerate()
            .map(|(t, &y)| format!("{:.1},{:.1}", f.px(t as f64), f.py(y as f64)))
            .collect();
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.2\"/>",
            pts.join(" "),
            PALETTE[j % PALETTE.len()]
        );
    }
    for (j, (_, level)) in levels.iter().enumerate() {
        let y = f.py(*level as f64);
        let _ = write!(
            s,
            "<line x1=\"{L}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"{}\" stroke-dasharray=\"5 3\"/>",
            W - R,
            PALETTE[j % PALETTE.len()]
        );
    }
    let names: Vec<&str> = series.iter().map(|s| s.0.as_str()).collect();
    legend_row(&mut s, &names, T + 14.0);
    s + "</svg>"
}

/// A histogram of integer values: `(value, count)`.
pub fn histogram(title: &str, xlabel: &str, bins: &[(i64, u64)]) -> String {
    let h = 240.0;
    let (lo, hi) = bins
        .iter()
        .fold((i64::MAX, i64::MIN), |(a, b), &(v, _)| (a.min(v), b.max(v)));
    let (lo, hi) = if bins.is_empty() { (0, 1) } else { (lo, hi) };
    let top = bins.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let f = Frame {
        x: (lo as f64 - 0.5, hi as f64 + 0.5),
        y: (0.0, top),
        log: false,
        h,
    };
    let mut s = open(h, title);
    f.axes(&mut s, xlabel, "count");
    let bw = (f.px(1.0) - f.px(0.0)).max(1.0) * 0.9;
    for &(v, c) in bins {
        let (x, y) = (f.px(v as f64) - bw / 2.0, f.py(c as f64));
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
            f.py(0.0) - y,
            PALETTE[0]
        );
    }
    s + "</svg>"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every plot is one well-formed SVG element whose marks match the data.
    #[test]
    fn plots_are_well_formed_and_carry_their_data() {
        let b = bars(
            "LUTs <per> layer",
            &["estimated", "synthesised"],
            &[
                ("fc1".into(), vec![100.0, 80.0]),
                ("lif1".into(), vec![5.0, 0.0]),
            ],
            None,
        );
        assert!(b.starts_with("<svg") && b.ends_with("</svg>"));
        assert!(b.contains("LUTs &lt;per&gt; layer"));
        // Four bars plus two legend swatches.
        assert_eq!(b.matches("<rect").count(), 6);
        let r = raster("spikes", 10, 4, &[(0, 0), (3, 2), (9, 3)]);
        assert_eq!(r.matches("fill=\"#222\"").count(), 3);
        let sc = scatter("p", ("a", "b"), &["x".into()], &[(10.0, 12.0, 0)], 0.1);
        assert_eq!(sc.matches("<circle").count(), 1);
        let l = lines("v", &[("n0".into(), vec![0, 5, -3])], &[("th".into(), 4)]);
        assert_eq!(l.matches("<polyline").count(), 1);
        let hg = histogram("h", "diff", &[(-1, 3), (0, 10), (2, 1)]);
        assert_eq!(hg.matches("<rect").count(), 1 + 3);
        for svg in [&b, &r, &sc, &l, &hg] {
            assert_eq!(svg.matches("<svg").count(), 1);
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        }
    }

    #[test]
    fn short_numbers_read_naturally() {
        assert_eq!(short(12.0), "12");
        assert_eq!(short(3456.0), "3.5k");
        assert_eq!(short(21905.0), "22k");
        assert_eq!(short(0.25), "0.25");
        assert_eq!(short(338.57), "339");
        assert_eq!(short(2.54), "2.5");
    }
}
