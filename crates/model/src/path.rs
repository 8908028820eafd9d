//! Which request paths gatehouse will route at all.
//!
//! IIS, in front of Exchange and SharePoint, reads a path differently from a
//! proxy: it turns `\` and `%5C` into `/`, decodes `%2F`, `%2E` and `%uXXXX`,
//! and resolves `..` after all that, so `/owa/..%5cecp/` is ECP to Exchange
//! while a proxy that routes on the raw bytes sees OWA. Rather than guess
//! the backend's normalisation, a path whose meaning depends on it is
//! refused (the proxy answers 400), and any other path is routed and
//! forwarded in one normal form (see [`crate::routing::normalize`]), so
//! gatehouse never routes one path and forwards another.

use std::borrow::Cow;

use crate::routing::is_dot_segment;

/// Why a path is refused. Each is a short phrase for the access log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathRefusal {
    /// `\`, raw or as `%5C`: IIS reads it as `/`.
    Backslash,
    /// `%2F`: a slash the backend may or may not split on.
    EncodedSlash,
    /// A `.` or `..` segment, raw or with `%2E`: the backend resolves it
    /// after its own decoding.
    DotSegment,
    /// `%25`: double encoding, decoded once more by some backends.
    EncodedPercent,
    /// `%u` escapes (IIS's own), or a `%` not followed by two hex digits.
    BadEscape,
    /// NUL or another control character, raw or escaped.
    Control,
    /// Escaped bytes that are not valid UTF-8: overlong forms such as
    /// `%C0%AF` (`/` to some decoders) among them.
    InvalidUtf8,
    /// `;` path parameters, which IIS and ASP.NET strip before routing
    /// their own way.
    PathParameter,
    /// Not an origin-form path.
    NotAbsolute,
}

impl PathRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            PathRefusal::Backslash => "path: backslash",
            PathRefusal::EncodedSlash => "path: encoded slash",
            PathRefusal::DotSegment => "path: dot segment",
            PathRefusal::EncodedPercent => "path: double encoding",
            PathRefusal::BadEscape => "path: bad escape",
            PathRefusal::Control => "path: control character",
            PathRefusal::InvalidUtf8 => "path: invalid UTF-8",
            PathRefusal::PathParameter => "path: path parameter",
            PathRefusal::NotAbsolute => "path: not absolute",
        }
    }
}

impl std::fmt::Display for PathRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The path as gatehouse routes and forwards it, or why it is refused.
/// Borrowed when the path is already normal (nearly always): repeated
/// slashes collapse and unreserved escapes (`%6F`) decode, nothing else
/// changes.
pub fn judge(path: &str) -> Result<Cow<'_, str>, PathRefusal> {
    let b = path.as_bytes();
    if b.first() != Some(&b'/') {
        // `*` (OPTIONS) and absolute-form targets keep their own rules.
        return if path == "*" {
            Ok(Cow::Borrowed(path))
        } else {
            Err(PathRefusal::NotAbsolute)
        };
    }
    // One pass: refusals first, then the segment rule on the decoded bytes.
    let mut i = 0;
    let mut seg_len = 0usize; // decoded bytes in the current segment
    let mut seg_dots = 0usize; // of which dots
    let mut utf8 = Vec::new(); // escaped high bytes, checked per run
                               // No escape and no empty segment: already normal, as nearly every
                               // path is, so it need not be scanned again to be normalised.
    let mut normal = true;
    while i < b.len() {
        let c = b[i];
        let (decoded, width) = match c {
            b'%' => {
                let hex = |x: u8| (x as char).to_digit(16);
                let (Some(h), Some(l)) = (b.get(i + 1).and_then(|&x| hex(x)), b.get(i + 2).and_then(|&x| hex(x)))
                else {
                    return Err(PathRefusal::BadEscape);
                };
                ((h * 16 + l) as u8, 3)
            }
            _ => (c, 1),
        };
        let escaped = width == 3;
        normal &= !escaped;
        if decoded >= 0x80 {
            if escaped {
                utf8.push(decoded);
            } else {
                // Raw non-ASCII never reaches here through hyper; refuse it
                // rather than let two decoders disagree.
                return Err(PathRefusal::InvalidUtf8);
            }
        } else if !utf8.is_empty() {
            std::str::from_utf8(&utf8).map_err(|_| PathRefusal::InvalidUtf8)?;
            utf8.clear();
        }
        match decoded {
            b'\\' => return Err(PathRefusal::Backslash),
            b'/' if escaped => return Err(PathRefusal::EncodedSlash),
            b'%' if escaped => return Err(PathRefusal::EncodedPercent),
            b';' => return Err(PathRefusal::PathParameter),
            0..=0x1f | 0x7f => return Err(PathRefusal::Control),
            _ => {}
        }
        if decoded == b'/' {
            if is_dot_segment(seg_len, seg_dots) {
                return Err(PathRefusal::DotSegment);
            }
            normal &= seg_len > 0 || i == 0;
            seg_len = 0;
            seg_dots = 0;
        } else {
            seg_len += 1;
            seg_dots += usize::from(decoded == b'.');
        }
        i += width;
    }
    if !utf8.is_empty() {
        std::str::from_utf8(&utf8).map_err(|_| PathRefusal::InvalidUtf8)?;
    }
    if is_dot_segment(seg_len, seg_dots) {
        return Err(PathRefusal::DotSegment);
    }
    if normal {
        return Ok(Cow::Borrowed(path));
    }
    // `%u` is caught above: `u` is not a hex digit. What is left is safe to
    // put in normal form, which the route table reads too.
    Ok(match crate::routing::normalize(path) {
        // Escapes the normal form keeps (`%20`) make it a copy of the same.
        Cow::Owned(n) if n == path => Cow::Borrowed(path),
        n => n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_paths_pass_unchanged_and_borrowed() {
        for p in [
            "/",
            "/owa/",
            "/owa/auth/logon.aspx",
            "/EWS/Exchange.asmx",
            "/sites/a%20b/doc.docx",
            "*",
        ] {
            assert!(matches!(judge(p), Ok(Cow::Borrowed(q)) if q == p), "{p}");
        }
    }

    #[test]
    fn valid_utf8_escapes_pass() {
        // "Équipe" and "partagés", as SharePoint libraries are named.
        assert!(judge("/sites/%C3%89quipe/Documents%20partag%C3%A9s/").is_ok());
    }

    #[test]
    fn normalisable_paths_are_given_in_normal_form() {
        assert_eq!(judge("//owa/").unwrap(), "/owa/");
        assert_eq!(judge("/%6Fwa/").unwrap(), "/owa/");
    }

    #[test]
    fn every_ambiguous_encoding_is_refused() {
        use PathRefusal::*;
        let cases = [
            ("/owa/..\\ecp/", Backslash),
            ("/owa/..%5cecp/", Backslash),
            ("/owa/..%5Cecp/", Backslash),
            ("/owa/%2e%2e/ecp/", DotSegment),
            ("/owa/%2E%2E/ecp/", DotSegment),
            ("/owa/.%2e/ecp/", DotSegment),
            ("/owa/../ecp/", DotSegment),
            ("/owa/./x", DotSegment),
            ("/owa/..", DotSegment),
            ("/owa%2fecp/", EncodedSlash),
            ("/owa%2Fecp/", EncodedSlash),
            ("/owa/%00/", Control),
            ("/owa/\0/", Control),
            ("/owa/%0d%0a", Control),
            ("/owa/%u005c../ecp/", BadEscape),
            ("/owa/%U002e/", BadEscape),
            ("/owa/%zz", BadEscape),
            ("/owa/%4", BadEscape),
            ("/owa/%c0%af../ecp/", InvalidUtf8),
            ("/owa/%e0%80%af../ecp/", InvalidUtf8),
            ("/owa/%c0%ae%c0%ae/ecp/", InvalidUtf8),
            ("/owa/%ff", InvalidUtf8),
            ("/owa/%255c../ecp/", EncodedPercent),
            ("/owa/%252e%252e/ecp/", EncodedPercent),
            ("/owa/..;/ecp/", PathParameter),
            ("/ecp;x=1/", PathParameter),
            ("owa", NotAbsolute),
        ];
        for (path, why) in cases {
            assert_eq!(judge(path), Err(why), "{path}");
        }
    }

    proptest::proptest! {
        /// Whatever passes, routing sees exactly what is forwarded: the
        /// normal form of a judged path is itself normal and judged alike.
        #[test]
        fn a_judged_path_is_a_fixed_point(path in "/[/.%a-f0-9\\\\;u]{0,12}") {
            if let Ok(p) = judge(&path) {
                let p = p.into_owned();
                proptest::prop_assert_eq!(judge(&p).unwrap(), p.as_str());
                proptest::prop_assert!(!p.contains(['\\', ';']));
            }
        }
    }
}
