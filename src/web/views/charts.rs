//! Server-side SVG charts as maud components, drawn with plotters' SVG
//! backend: axes, ticks, labels and legends come from the crate; berth only
//! says which series and limit lines to show. No JavaScript, no fonts to
//! ship (the browser renders the `<text>` elements).

use maud::{html, Markup, PreEscaped};
use plotters::prelude::*;

/// How values on the y axis read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Cores,
    Bytes,
    BytesPerSec,
    Ratio,
    Usd,
}

impl Unit {
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Cores => format!("{v:.2}"),
            Unit::Bytes => bytes(v),
            Unit::BytesPerSec => format!("{}/s", bytes(v)),
            Unit::Ratio => format!("{:.0} %", v * 100.0),
            Unit::Usd => format!("${v:.2}"),
        }
    }
}

pub use crate::domain::size::human_bytes as bytes;

/// One line; `area` fills under it.
pub struct Series<'a> {
    pub label: &'a str,
    pub color: RGBColor,
    pub points: Vec<(i64, f64)>,
    pub area: bool,
}

/// A horizontal line: a plan limit or quota.
pub struct Limit<'a> {
    pub label: &'a str,
    pub value: f64,
}

pub struct Chart<'a> {
    pub title: &'a str,
    pub unit: Unit,
    /// Unix seconds.
    pub from: i64,
    pub to: i64,
    pub series: Vec<Series<'a>>,
    pub limits: Vec<Limit<'a>>,
}

pub const BLUE_: RGBColor = RGBColor(31, 119, 180);
pub const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub const GREEN_: RGBColor = RGBColor(44, 160, 44);
const LIMIT: RGBColor = RGBColor(214, 39, 40);

const SIZE: (u32, u32) = (560, 220);

/// The chart as an inline `<svg>` in a `<figure>`; a message instead when
/// there is nothing to draw.
pub fn chart(c: &Chart) -> Markup {
    let has_data = c.series.iter().any(|s| !s.points.is_empty());
    if !has_data {
        return html! {
            figure.chart.empty { figcaption { (c.title) } p { "No samples in this range yet." } }
        };
    }
    match render(c) {
        Ok(svg) => html! { figure.chart { (PreEscaped(svg)) } },
        Err(e) => {
            tracing::warn!(error = %e, title = c.title, "chart failed to render");
            html! { figure.chart.empty { figcaption { (c.title) } p { "Chart unavailable." } } }
        }
    }
}

fn render(c: &Chart) -> Result<String, String> {
    let mut svg = String::new();
    draw(c, &mut svg).map_err(|e| e.to_string())?;
    Ok(svg)
}

fn draw(c: &Chart, svg: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let top = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(c.limits.iter().map(|l| l.value))
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let span = c.to - c.from;
    let unit = c.unit;
    {
        let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(c.title, ("sans-serif", 15))
            .margin(6)
            .x_label_area_size(22)
            .y_label_area_size(64)
            .build_cartesian_2d(c.from..c.to, 0f64..top)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&|t| time_label(*t, span))
            .y_label_formatter(&|v| unit.format(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .label_style(("sans-serif", 11))
            .draw()?;
        for s in &c.series {
            let color = s.color;
            if s.area {
                chart
                    .draw_series(
                        AreaSeries::new(s.points.iter().copied(), 0.0, color.mix(0.18))
                            .border_style(color),
                    )?
                    .label(s.label)
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 4), (x + 12, y + 4)], color.filled())
                    });
            } else {
                chart
                    .draw_series(LineSeries::new(
                        s.points.iter().copied(),
                        color.stroke_width(2),
                    ))?
                    .label(s.label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 12, y)], color.stroke_width(2))
                    });
            }
        }
        for l in &c.limits {
            chart
                .draw_series(DashedLineSeries::new(
                    [(c.from, l.value), (c.to, l.value)],
                    6,
                    4,
                    LIMIT.stroke_width(1),
                ))?
                .label(l.label)
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], LIMIT));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 11))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()?;
        root.present()?;
    }
    Ok(())
}

fn time_label(t: i64, span: i64) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(t) else {
        return String::new();
    };
    if span <= 2 * 86400 {
        format!("{:02}:{:02}", at.hour(), at.minute())
    } else {
        format!("{:02}-{:02}", u8::from(at.month()), at.day())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_an_svg_with_series_limits_and_labels() {
        let markup = chart(&Chart {
            title: "Memory",
            unit: Unit::Bytes,
            from: 1_800_000_000,
            to: 1_800_003_600,
            series: vec![Series {
                label: "used",
                color: BLUE_,
                points: (0..240)
                    .map(|i| (1_800_000_000 + i * 15, (i * 1_000_000) as f64))
                    .collect(),
                area: true,
            }],
            limits: vec![Limit {
                label: "limit 256 MiB",
                value: 268_435_456.0,
            }],
        })
        .into_string();
        assert!(
            markup.starts_with("<figure class=\"chart\"><svg"),
            "{}",
            &markup[..80]
        );
        assert!(markup.contains("Memory") && markup.contains("limit 256 MiB"));
        assert!(markup.contains("MiB"));
        let empty = chart(&Chart {
            title: "CPU",
            unit: Unit::Cores,
            from: 0,
            to: 1,
            series: vec![],
            limits: vec![],
        });
        assert!(empty.into_string().contains("No samples"));
    }

    #[test]
    fn sizes_read_like_humans_write_them() {
        assert_eq!(bytes(900.0), "900 B");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GiB");
        assert_eq!(Unit::Ratio.format(0.5), "50 %");
    }
}
