//! A small SVG line chart: delivered ratio and p99 round trip against N.
//!
//! Written by hand rather than with a plotting crate: the chart is two polylines and a few
//! labels, and plotters' text rendering needs a font backend this project has no other use
//! for.

use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 90.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// One run on the chart.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    /// Bots in the room.
    pub n: f64,
    /// Delivered / nominal, in percent.
    pub delivered_pct: f64,
    /// Round-trip p99, in milliseconds.
    pub p99_ms: f64,
}

/// Left axis: delivered % (0-100); right axis: p99 in ms on a log scale, from 0.1 ms to the
/// power of ten above the largest p99 (at least 1 s, so the 2-tick target line fits): round
/// trips span four orders of magnitude between a quiet and an overloaded room.
pub fn delivered_and_p99(points: &[Point]) -> String {
    chart(points, &Labels::ROOM)
}

/// The words on a chart.
pub struct Labels {
    /// Above the chart.
    pub title: &'static str,
    /// Under the x axis.
    pub x: &'static str,
    /// What the blue (left) series is.
    pub left: &'static str,
    /// What the red (right, log scale) series is.
    pub right: &'static str,
}

impl Labels {
    /// The broadcast sweep's.
    pub const ROOM: Labels = Labels {
        title: "One room, N bots moving every 250 ms (deliveries = N x N x 4 per second)",
        x: "N (bots in the room)",
        left: "delivered / nominal (left)",
        right: "round trip p99 (C_Ping), log scale (right)",
    };

    /// The world sweep's: the red line is the move round trip (a bot's `C_Move` to its own
    /// `S_BroadcastMove`, the tick's wait included), the one the world's target is about.
    pub const WORLD: Labels = Labels {
        title: "World mode, N bots walking at a fixed density (area of interest)",
        x: "N (bots in the world)",
        left: "required moves delivered (left)",
        right: "move round trip p99, tick included, log scale (right)",
    };
}

/// [`delivered_and_p99`] with other words.
pub fn chart(points: &[Point], labels: &Labels) -> String {
    let max_n = points.iter().map(|p| p.n).fold(1.0, f64::max);
    let max_p99 = points.iter().map(|p| p.p99_ms).fold(1000.0, f64::max);
    let (lo, hi) = (-1.0, max_p99.log10().ceil());
    let x = |n: f64| LEFT + (W - LEFT - RIGHT) * n / max_n;
    let y_pct = |pct: f64| TOP + (H - TOP - BOTTOM) * (1.0 - pct / 100.0);
    let y_ms = |ms: f64| {
        let v = ms.max(0.1).log10();
        TOP + (H - TOP - BOTTOM) * (1.0 - (v - lo) / (hi - lo))
    };

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        W / 2.0,
        labels.title
    );
    // Axes and grid.
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
    let _ = writeln!(
        svg,
        r#"<path d="M{x0} {y0} V{y1} H{x1} V{y0}" fill="none" stroke="black"/>"#
    );
    for pct in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let y = y_pct(pct);
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" y1="{y}" x2="{x1}" y2="{y}" stroke="#ddd"/>"##
        );
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end" fill="#1f77b4">{pct:.0}%</text>"##,
            x0 - 6.0,
            y + 4.0
        );
    }
    let mut decade = lo;
    while decade <= hi {
        let ms = 10f64.powf(decade);
        let label = if ms < 1.0 {
            format!("{ms} ms")
        } else {
            format!("{ms:.0} ms")
        };
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" fill="#d62728">{label}</text>"##,
            x1 + 6.0,
            y_ms(ms) + 4.0
        );
        decade += 1.0;
    }
    let target = y_ms(500.0);
    let _ = writeln!(
        svg,
        r##"<line x1="{x0}" y1="{target}" x2="{x1}" y2="{target}" stroke="#d62728" stroke-dasharray="4 4"/><text x="{}" y="{}" text-anchor="end" fill="#d62728">p99 target: 500 ms (2 ticks)</text>"##,
        x1 - 6.0,
        target - 4.0
    );
    for p in points {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{:.0}</text>"#,
            x(p.n),
            y1 + 18.0,
            p.n
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (x0 + x1) / 2.0,
        H - 10.0,
        labels.x
    );
    // Series.
    let delivered = polyline(points.iter().map(|p| (x(p.n), y_pct(p.delivered_pct))));
    let p99 = polyline(points.iter().map(|p| (x(p.n), y_ms(p.p99_ms))));
    let _ = writeln!(
        svg,
        r##"<polyline points="{delivered}" fill="none" stroke="#1f77b4" stroke-width="2.5"/>"##
    );
    let _ = writeln!(
        svg,
        r##"<polyline points="{p99}" fill="none" stroke="#d62728" stroke-width="2.5"/>"##
    );
    for p in points {
        let _ = writeln!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#1f77b4"/>"##,
            x(p.n),
            y_pct(p.delivered_pct)
        );
        let _ = writeln!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#d62728"/>"##,
            x(p.n),
            y_ms(p.p99_ms)
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="{}" fill="#1f77b4">— {}</text><text x="{}" y="{}" fill="#d62728">— {}</text>"##,
        x0 + 10.0,
        y_pct(50.0),
        labels.left,
        x0 + 10.0,
        y_pct(50.0) + 16.0,
        labels.right
    );
    svg.push_str("</svg>\n");
    svg
}

/// Reads points from the CSV that `bench broadcast --plot` writes beside the chart
/// (`n,delivered_pct,p99_ms` with a header line).
pub fn read_csv(text: &str) -> Result<Vec<Point>, String> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let cols: Vec<f64> = line
                .split(',')
                .map(|c| c.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("line {}: {e}", i + 2))?;
            match cols[..] {
                [n, delivered_pct, p99_ms] => Ok(Point {
                    n,
                    delivered_pct,
                    p99_ms,
                }),
                _ => Err(format!("line {}: expected 3 columns", i + 2)),
            }
        })
        .collect()
}

/// The CSV form of `points`, read back by [`read_csv`].
pub fn write_csv(points: &[Point]) -> String {
    let mut out = String::from("n,delivered_pct,p99_ms\n");
    for p in points {
        let _ = writeln!(out, "{},{},{}", p.n, p.delivered_pct, p.p99_ms);
    }
    out
}

fn polyline(points: impl Iterator<Item = (f64, f64)>) -> String {
    points
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_has_one_point_per_run_on_each_series() {
        let point = |n, delivered_pct, p99_ms| Point {
            n,
            delivered_pct,
            p99_ms,
        };
        let svg = delivered_and_p99(&[
            point(100.0, 100.0, 10.0),
            point(1000.0, 99.0, 120.0),
            point(3000.0, 90.0, 800.0),
        ]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 6, "three runs, two series");
        assert_eq!(svg.matches("<polyline").count(), 2);
    }

    #[test]
    fn csv_round_trips_and_rejects_bad_lines() {
        let points = [Point {
            n: 100.0,
            delivered_pct: 99.5,
            p99_ms: 0.3,
        }];
        let back = read_csv(&write_csv(&points)).expect("valid csv");
        assert_eq!(
            (back[0].n, back[0].delivered_pct, back[0].p99_ms),
            (100.0, 99.5, 0.3)
        );
        assert!(read_csv("n,d,p\n1,2\n").is_err(), "two columns");
        assert!(read_csv("n,d,p\n1,x,3\n").is_err(), "not a number");
    }
}
