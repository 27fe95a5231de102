//! Header access that survives any bytes a client sends.
//!
//! The SDK's string accessors panic on a header value that is not UTF-8, which would take the
//! whole VM down; these read bytes and convert lossily. A lossy value never matches a real key,
//! so a key with broken bytes is refused as unknown rather than guessed at.

use proxy_wasm::traits::HttpContext;

fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

pub fn request_header(ctx: &impl HttpContext, name: &str) -> Option<String> {
    ctx.get_http_request_header_bytes(name).map(lossy)
}

pub fn request_headers(ctx: &impl HttpContext) -> Vec<(String, String)> {
    ctx.get_http_request_headers_bytes()
        .into_iter()
        .map(|(n, v)| (n, lossy(v)))
        .collect()
}

/// The first value of header `name` (lowercase) among `headers`.
pub fn first<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

pub fn response_header(ctx: &impl HttpContext, name: &str) -> Option<String> {
    ctx.get_http_response_header_bytes(name).map(lossy)
}

pub fn call_response_header(ctx: &impl proxy_wasm::traits::Context, name: &str) -> Option<String> {
    ctx.get_http_call_response_header_bytes(name).map(lossy)
}

/// A client-set label (project, user) made safe to store: control characters dropped, at most
/// `LABEL_CHARS` characters, empty as none.
pub fn label(value: Option<String>) -> Option<String> {
    let cleaned: String = value?
        .chars()
        .filter(|c| !c.is_control())
        .take(LABEL_CHARS)
        .collect();
    let cleaned = cleaned.trim().to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// The client's `accept-encoding` narrowed to the codings the filter decodes in a small fixed
/// window (gzip, deflate), so a provider never answers in one that needs megabytes per stream
/// to read (br's window can be 16 MiB, zstd's more). None when nothing is left: the provider
/// then answers uncompressed.
pub fn metered_accept_encoding(value: &str) -> Option<String> {
    let kept: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|coding| {
            let name = coding.split(';').next().unwrap_or("").trim();
            ["gzip", "x-gzip", "deflate", "identity"]
                .iter()
                .any(|k| name.eq_ignore_ascii_case(k))
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

/// Longest project or user label kept from a request header.
pub const LABEL_CHARS: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_clamped_and_cleaned() {
        assert_eq!(label(Some("checkout".into())).as_deref(), Some("checkout"));
        assert_eq!(label(Some(" \u{7}a\nb ".into())).as_deref(), Some("ab"));
        assert_eq!(
            label(Some("p".repeat(300))).map(|l| l.len()),
            Some(LABEL_CHARS)
        );
        assert_eq!(label(Some("  ".into())), None);
        assert_eq!(label(None), None);
    }

    #[test]
    fn accept_encoding_keeps_the_small_window_codings() {
        assert_eq!(
            metered_accept_encoding("gzip, deflate, br").as_deref(),
            Some("gzip, deflate")
        );
        assert_eq!(
            metered_accept_encoding("br;q=1.0, gzip;q=0.8").as_deref(),
            Some("gzip;q=0.8")
        );
        assert_eq!(metered_accept_encoding("br, zstd"), None);
        assert_eq!(
            metered_accept_encoding("identity").as_deref(),
            Some("identity")
        );
    }

    #[test]
    fn broken_bytes_become_replacement_characters() {
        assert_eq!(lossy(vec![b'a', 0xff, b'b']), "a\u{fffd}b");
    }
}
