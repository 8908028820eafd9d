//! Text widths for laying out the diagram without a font engine.
//!
//! The advance widths are DejaVu Sans's (regular and bold, per 1000 units of
//! the font size), measured in Chromium. DejaVu Sans is the first font the
//! SVG asks for and the widest of the usual sans-serif fallbacks (Verdana
//! matches it; Arial, Helvetica and Liberation Sans are narrower), so a
//! label sized with these widths fits wherever the diagram is opened.

/// Advance widths of ASCII 32..=126, regular.
const REGULAR: [u16; 95] = [
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636, 636, 636,
    636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863,
    748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613, 635, 550, 635,
    615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636,
    337, 636, 838,
];

/// Advance widths of ASCII 32..=126, bold.
const BOLD: [u16; 95] = [
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696, 696, 696,
    696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775, 637, 995,
    837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593, 716,
    678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712,
    365, 712, 838,
];

/// The width of one character in thousandths of the font size.
fn advance(c: char, bold: bool) -> u32 {
    let table = if bold { &BOLD } else { &REGULAR };
    match c as u32 {
        code @ 32..=126 => u32::from(table[(code - 32) as usize]),
        // Accented Latin letters measure as their base letters; these bounds
        // are the widest of each case in the measured tables.
        _ if c.is_lowercase() => {
            if bold {
                716
            } else {
                636
            }
        }
        _ if c.is_uppercase() => {
            if bold {
                850
            } else {
                787
            }
        }
        _ => 1000,
    }
}

/// The width of `text` at `size` pixels.
pub(crate) fn width(text: &str, size: f64, bold: bool) -> f64 {
    text.chars().map(|c| f64::from(advance(c, bold))).sum::<f64>() * size / 1000.0
}

/// Breaks `text` into lines no wider than `max`: at spaces, and inside a
/// word too long for a line after a hyphen, slash, comma or full stop (or
/// anywhere, as a last resort).
pub(crate) fn wrap(text: &str, size: f64, bold: bool, max: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if width(&candidate, size, bold) <= max {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut rest = word.to_string();
        while width(&rest, size, bold) > max {
            let cut = break_point(&rest, size, bold, max);
            lines.push(rest[..cut].to_string());
            rest = rest[cut..].to_string();
        }
        line = rest;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Where to cut a word that does not fit: after the last separator that
/// keeps the head within `max`, else at the last character that fits.
fn break_point(word: &str, size: f64, bold: bool, max: f64) -> usize {
    let mut fit = 0;
    let mut separator = 0;
    for (i, c) in word.char_indices() {
        let end = i + c.len_utf8();
        if width(&word[..end], size, bold) > max {
            break;
        }
        fit = end;
        if matches!(c, '-' | '/' | ',' | '.' | ':') {
            separator = end;
        }
    }
    let cut = if separator > 0 { separator } else { fit };
    // Always make progress, even when one character is wider than the line.
    cut.max(word.chars().next().map_or(1, char::len_utf8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_font_tables() {
        assert!((width("Lync", 1000.0, false) - (557.0 + 592.0 + 634.0 + 550.0)).abs() < 1e-9);
        assert!(width("VIP", 14.0, true) > width("VIP", 14.0, false));
        assert_eq!(width("é", 10.0, false), width("e", 10.0, false).max(6.36));
    }

    #[test]
    fn wrapping_keeps_every_line_within_the_width_and_every_word() {
        let text = "Exchange Client Access servers (CAS) behind Microsoft-Server-ActiveSync and more";
        let lines = wrap(text, 14.0, false, 120.0);
        assert!(lines.len() > 3);
        for l in &lines {
            assert!(width(l, 14.0, false) <= 120.0, "{l:?} is too wide");
        }
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
        assert!(
            lines.iter().any(|l| l.ends_with("Microsoft-")),
            "long words break after a hyphen: {lines:?}"
        );
    }
}
