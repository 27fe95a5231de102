//! The `content-encoding` header: which coding, if any, stands between the meter and the body.

/// The content coding of a response body, as far as the meter is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// No coding (an absent or empty header, or only `identity`).
    Identity,
    Gzip,
    /// `deflate`: a zlib stream, or a raw deflate stream as some servers send instead.
    Deflate,
    Brotli,
    /// A coding the meter does not undo, or several applied in turn (`gzip, br`).
    Unsupported,
}

impl Coding {
    /// Reads a `content-encoding` header value; `identity` entries and empty list items are
    /// ignored, case is not significant.
    pub(crate) fn from_header(header: Option<&str>) -> Coding {
        let Some(header) = header else {
            return Coding::Identity;
        };
        let mut codings = header
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"));
        match (codings.next(), codings.next()) {
            (None, _) => Coding::Identity,
            (Some(one), None) => Coding::named(one),
            (Some(_), Some(_)) => Coding::Unsupported,
        }
    }

    fn named(name: &str) -> Coding {
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            Coding::Gzip
        } else if name.eq_ignore_ascii_case("deflate") {
            Coding::Deflate
        } else if name.eq_ignore_ascii_case("br") {
            Coding::Brotli
        } else {
            Coding::Unsupported
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_single_codings_whatever_their_case() {
        assert_eq!(Coding::from_header(Some("gzip")), Coding::Gzip);
        assert_eq!(Coding::from_header(Some(" X-GZip ")), Coding::Gzip);
        assert_eq!(Coding::from_header(Some("Deflate")), Coding::Deflate);
        assert_eq!(Coding::from_header(Some("br")), Coding::Brotli);
    }

    #[test]
    fn identity_and_absence_are_no_coding() {
        assert_eq!(Coding::from_header(None), Coding::Identity);
        assert_eq!(Coding::from_header(Some("")), Coding::Identity);
        assert_eq!(Coding::from_header(Some("identity")), Coding::Identity);
        assert_eq!(Coding::from_header(Some("identity, br")), Coding::Brotli);
    }

    #[test]
    fn unknown_and_stacked_codings_are_unsupported() {
        assert_eq!(Coding::from_header(Some("zstd")), Coding::Unsupported);
        assert_eq!(Coding::from_header(Some("gzip, br")), Coding::Unsupported);
        assert_eq!(Coding::from_header(Some("gzip,gzip")), Coding::Unsupported);
    }
}
