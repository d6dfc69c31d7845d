//! A bar chart of the two headline results, drawn with plotters' bitmap backend. Text uses the
//! public-domain 8×8 bitmap font of the font8x8 crate, so no system font is needed.

use std::path::Path;

use anyhow::{Result, anyhow};
use font8x8::{BASIC_FONTS, LATIN_FONTS, UnicodeFonts as _};
use plotters::{
    backend::BitMapBackend,
    coord::Shift,
    prelude::{DrawingArea, IntoDrawingArea as _, Rectangle},
    style::{Color as _, RGBColor, WHITE},
};

use super::Report;

const WIDTH: u32 = 1200;
const ROW: i32 = 22;
const LABEL_X: i32 = 16;
const BAR_X: i32 = 420;
const BAR_MAX: f64 = 640.0;
const BLACK: RGBColor = RGBColor(20, 20, 20);
const FLOOR: RGBColor = RGBColor(150, 150, 150);
const REFERENCE: RGBColor = RGBColor(200, 200, 200);
const SCANGUARD: RGBColor = RGBColor(40, 100, 200);
const OTHER: RGBColor = RGBColor(230, 140, 40);

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

struct Bar {
    label: String,
    value: f64,
    color: RGBColor,
}

pub fn draw(report: &Report, path: &Path) -> Result<()> {
    let per_packet: Vec<Bar> = report
        .packet_cost
        .iter()
        .flat_map(|cost| cost.floors.iter().chain(&cost.rows))
        .filter(|row| row.wall_ns.is_some())
        .map(|row| Bar {
            label: row.case.clone(),
            value: row.ns.median,
            color: match row.group {
                "floor" => FLOOR,
                "reference" => REFERENCE,
                _ => SCANGUARD,
            },
        })
        .collect();
    let flood: Vec<Bar> = report
        .flood
        .iter()
        .flat_map(|flood| &flood.methods)
        .filter_map(|method| {
            Some(Bar {
                label: method.method.to_string(),
                value: method.pps?.median / 1e6,
                color: match method.key {
                    "floor" => FLOOR,
                    key if key.starts_with("scanguard") => SCANGUARD,
                    _ => OTHER,
                },
            })
        })
        .collect();
    let rows = i32::try_from(per_packet.len() + flood.len())?;
    let height = u32::try_from(150 + rows * ROW)?;
    let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let mut y = 16;
    if !per_packet.is_empty() {
        text(
            &root,
            LABEL_X,
            y,
            "Per-packet cost in the kernel (BPF_PROG_TEST_RUN), ns, median",
            2,
            BLACK,
        )?;
        y += 30;
        y = bars(&root, y, &per_packet, |v| format!("{v:.0} ns"))?;
        y += 24;
    }
    if !flood.is_empty() {
        text(
            &root,
            LABEL_X,
            y,
            "Flood from a banned source, veth pair: frames dropped, Mpps, median",
            2,
            BLACK,
        )?;
        y += 30;
        bars(&root, y, &flood, |v| format!("{v:.2} Mpps"))?;
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

fn bars(area: &Area<'_>, mut y: i32, bars: &[Bar], value: impl Fn(f64) -> String) -> Result<i32> {
    let max = bars
        .iter()
        .map(|b| b.value)
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    for bar in bars {
        text(area, LABEL_X, y + 7, &bar.label, 1, BLACK)?;
        let width = (bar.value / max * BAR_MAX).round() as i32;
        area.draw(&Rectangle::new(
            [(BAR_X, y + 3), (BAR_X + width.max(1), y + ROW - 3)],
            bar.color.filled(),
        ))
        .map_err(|e| anyhow!("{e}"))?;
        text(area, BAR_X + width + 8, y + 7, &value(bar.value), 1, BLACK)?;
        y += ROW;
    }
    Ok(y)
}

/// Draws `s` with its top-left corner at (x, y), each font pixel a `scale`×`scale` square.
fn text(area: &Area<'_>, x: i32, y: i32, s: &str, scale: i32, color: RGBColor) -> Result<()> {
    for (i, c) in s.chars().enumerate() {
        let glyph = BASIC_FONTS
            .get(c)
            .or_else(|| LATIN_FONTS.get(c))
            .unwrap_or([0; 8]);
        let left = x + i32::try_from(i)? * 8 * scale;
        for (row, bits) in (0i32..).zip(glyph) {
            for column in 0..8 {
                // Bit 0 is the leftmost pixel.
                if bits & (1 << column) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let pixel = (left + column * scale + dx, y + row * scale + dy);
                        area.draw_pixel(pixel, &color).map_err(|e| anyhow!("{e}"))?;
                    }
                }
            }
        }
    }
    Ok(())
}
