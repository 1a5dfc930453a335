//! The digest's picture: `Query_time` over a window for the top fingerprints, one line each, as a
//! PNG. Drawn here on an RGB buffer (axes, grid, lines, legend, title) with the public-domain 8×8
//! bitmap font of the `font8x8` crate, compiled in: no system fonts, nothing read or fetched at run
//! time. Pure: data in, PNG bytes out.

use font8x8::UnicodeFonts;

/// One line of the chart: its label and a value per time bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// Seconds of `Query_time` in each bucket, oldest first (every series has the same buckets).
    pub values: Vec<f64>,
}

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    /// Labels under the x axis: (bucket index, text); a few, not one per bucket.
    pub x_labels: Vec<(usize, String)>,
    pub series: Vec<Series>,
}

pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 540;
/// Distinct colours, in legend order (a colour-blind-safe palette).
pub const PALETTE: [[u8; 3]; 8] = [
    [0, 114, 178],
    [213, 94, 0],
    [0, 158, 115],
    [204, 121, 167],
    [230, 159, 0],
    [86, 180, 233],
    [120, 120, 120],
    [0, 0, 0],
];
const BACKGROUND: [u8; 3] = [255, 255, 255];
const INK: [u8; 3] = [40, 40, 40];
const GRID: [u8; 3] = [225, 225, 225];
const LEFT: i32 = 80;
const RIGHT: i32 = 20;
const TOP: i32 = 50;
/// Room for the x labels and the legend (one line per series).
const LEGEND_LINE: i32 = 20;

struct Canvas {
    pixels: Vec<u8>,
}

impl Canvas {
    fn new() -> Canvas {
        let mut pixels = Vec::with_capacity((WIDTH * HEIGHT * 3) as usize);
        for _ in 0..WIDTH * HEIGHT {
            pixels.extend_from_slice(&BACKGROUND);
        }
        Canvas { pixels }
    }

    fn set(&mut self, x: i32, y: i32, colour: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as u32) < WIDTH && (y as u32) < HEIGHT {
            let at = ((y as u32 * WIDTH + x as u32) * 3) as usize;
            self.pixels[at..at + 3].copy_from_slice(&colour);
        }
    }

    /// A line `width` pixels thick (Bresenham, each point a small square).
    fn line(&mut self, (x0, y0): (i32, i32), (x1, y1): (i32, i32), colour: [u8; 3], width: i32) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            for ox in 0..width {
                for oy in 0..width {
                    self.set(x + ox - width / 2, y + oy - width / 2, colour);
                }
            }
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Text at (x, y) (top left), each glyph 8×8 pixels times `scale`; a character the font lacks
    /// is drawn as `?`.
    fn text(&mut self, x: i32, y: i32, text: &str, colour: [u8; 3], scale: i32) {
        for (i, c) in text.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS.get(c).or_else(|| font8x8::BASIC_FONTS.get('?')).unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        for sx in 0..scale {
                            for sy in 0..scale {
                                let px = x + (i as i32 * 8 + col) * scale + sx;
                                self.set(px, y + row as i32 * scale + sy, colour);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A round step for about `lines` grid lines up to `max`: 1, 2 or 5 times a power of ten.
fn step_for(max: f64, lines: f64) -> f64 {
    let raw = (max / lines).max(1e-9);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|s| *s >= raw).unwrap_or(10.0 * power)
}

fn seconds_label(v: f64) -> String {
    if v == 0.0 {
        "0".to_owned()
    } else if v < 1.0 {
        format!("{:.0}ms", v * 1000.0)
    } else if v < 100.0 && v.fract() != 0.0 {
        format!("{v:.1}s")
    } else {
        format!("{v:.0}s")
    }
}

/// The chart as PNG bytes, [`WIDTH`] × [`HEIGHT`], at most 8 series (the rest are not drawn).
pub fn render(chart: &Chart) -> Vec<u8> {
    let mut canvas = Canvas::new();
    let series = &chart.series[..chart.series.len().min(PALETTE.len())];
    let bottom = HEIGHT as i32 - 40 - LEGEND_LINE * series.len() as i32;
    let right = WIDTH as i32 - RIGHT;
    // Twice the size when it fits, else the font's own size.
    let fits = chart.title.chars().count() as i32 * 16 <= WIDTH as i32 - LEFT - RIGHT;
    canvas.text(LEFT, if fits { 16 } else { 24 }, &chart.title, INK, if fits { 2 } else { 1 });

    let buckets = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let max = series.iter().flat_map(|s| s.values.iter().copied()).filter(|v| v.is_finite()).fold(0.0, f64::max);
    let step = step_for(if max > 0.0 { max } else { 1.0 }, 5.0);
    let top_value = (max / step).ceil().max(1.0) * step;
    let y_of = |v: f64| bottom - ((v / top_value) * f64::from(bottom - TOP)).round() as i32;
    let x_of = |i: usize| {
        if buckets <= 1 {
            LEFT
        } else {
            LEFT + ((i as f64 / (buckets - 1) as f64) * f64::from(right - LEFT)).round() as i32
        }
    };
    // Grid and y labels.
    let mut v = 0.0;
    while v <= top_value + step / 2.0 {
        let y = y_of(v);
        canvas.line((LEFT, y), (right, y), GRID, 1);
        let label = seconds_label(v);
        canvas.text(LEFT - 8 - 8 * label.chars().count() as i32, y - 4, &label, INK, 1);
        v += step;
    }
    canvas.line((LEFT, TOP), (LEFT, bottom), INK, 1);
    canvas.line((LEFT, bottom), (right, bottom), INK, 1);
    for (i, label) in &chart.x_labels {
        let x = x_of(*i);
        canvas.line((x, bottom), (x, bottom + 4), INK, 1);
        let half = 4 * label.chars().count() as i32;
        canvas.text((x - half).clamp(0, (WIDTH as i32 - 2 * half).max(0)), bottom + 8, label, INK, 1);
    }
    // The lines, then the legend beneath.
    for (k, s) in series.iter().enumerate() {
        let colour = PALETTE[k];
        let points: Vec<(i32, i32)> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| (x_of(i), y_of(if v.is_finite() { v.max(0.0) } else { 0.0 })))
            .collect();
        if points.len() == 1 {
            canvas.line(points[0], points[0], colour, 5);
        }
        for pair in points.windows(2) {
            canvas.line(pair[0], pair[1], colour, 2);
        }
        let y = bottom + 28 + LEGEND_LINE * k as i32;
        canvas.line((LEFT, y + 4), (LEFT + 24, y + 4), colour, 3);
        canvas.text(LEFT + 32, y, &s.label, INK, 1);
    }
    encode(&canvas.pixels)
}

fn encode(pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Writing to a Vec cannot fail, and the buffer has exactly WIDTH × HEIGHT pixels.
        if let Ok(mut writer) = encoder.write_header() {
            let _ = writer.write_image_data(pixels);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(png_bytes);
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buffer).unwrap();
        buffer.truncate(info.buffer_size());
        (info.width, info.height, buffer)
    }

    fn count_colour(pixels: &[u8], colour: [u8; 3]) -> usize {
        pixels.chunks(3).filter(|p| *p == colour).count()
    }

    #[test]
    fn each_series_is_drawn_in_its_own_colour_on_a_png_of_the_stated_size() {
        let chart = Chart {
            title: "Query_time per 2 min, top 3".to_owned(),
            x_labels: vec![(0, "10:00".to_owned()), (29, "11:00".to_owned())],
            series: vec![
                Series {
                    label: "1 0x245E81B1 select date(…)".to_owned(),
                    values: (0..30).map(|i| f64::from(i) * 0.5).collect(),
                },
                Series { label: "2 0xF45E9803 select id".to_owned(), values: vec![2.0; 30] },
                Series {
                    label: "3 0xAFAF57DE update stock".to_owned(),
                    values: (0..30).map(|i| f64::from(i % 5)).collect(),
                },
            ],
        };
        let (width, height, pixels) = decode(&render(&chart));
        assert_eq!((width, height), (WIDTH, HEIGHT));
        for (k, colour) in PALETTE.iter().take(3).enumerate() {
            assert!(count_colour(&pixels, *colour) > 200, "series {k} drawn");
        }
        assert_eq!(count_colour(&pixels, PALETTE[3]), 0, "no fourth series");
        assert!(count_colour(&pixels, INK) > 500, "axes, labels and title");
    }

    #[test]
    fn empty_flat_and_odd_data_still_render() {
        for values in [vec![], vec![0.0], vec![f64::NAN, f64::INFINITY, -1.0, 3.0], vec![0.0; 5]] {
            let chart = Chart {
                title: "ünïcode ✓ title".to_owned(),
                x_labels: vec![(0, "x".to_owned()), (99, "far".to_owned())],
                series: vec![Series { label: "s".to_owned(), values }],
            };
            let (width, _, pixels) = decode(&render(&chart));
            assert_eq!(width, WIDTH);
            assert!(count_colour(&pixels, BACKGROUND) > (WIDTH * HEIGHT / 2) as usize);
        }
        // A label wider than the picture is cut at its edge, not a panic.
        let wide = Chart { title: "t".repeat(500), x_labels: vec![(0, "x".repeat(300))], series: Vec::new() };
        assert_eq!(decode(&render(&wide)).0, WIDTH);
        assert_eq!(step_for(7.3, 5.0), 2.0);
        assert_eq!(step_for(0.04, 5.0), 0.01);
    }
}
