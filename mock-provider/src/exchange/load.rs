//! Reading exchange files, and folders of them, with the checks that make them safe to serve.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use http::header::CONTENT_ENCODING;
use http::{HeaderName, HeaderValue, Method, StatusCode};

use super::{Exchange, ExchangeError};

/// Reads, parses and checks one exchange file.
pub fn load(path: &Path) -> Result<Exchange, ExchangeError> {
    let bytes = fs::read(path).map_err(|source| read_error(path, source))?;

    let mut exchange = parse(path, &bytes)?;
    exchange.path = path.to_owned();

    validate(&exchange)?;
    Ok(exchange)
}

/// A file or a folder (recursively, every `*.exchange.json`, sorted by path) per entry, in the
/// order given. A file named twice is loaded once; two files with the same `name` are an error.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<Exchange>, ExchangeError> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files)?;
    }

    let mut seen = HashSet::new();
    files.retain(|file| seen.insert(file.clone()));

    let exchanges = files
        .iter()
        .map(|file| load(file))
        .collect::<Result<Vec<_>, _>>()?;

    check_unique_names(&exchanges)?;
    Ok(exchanges)
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Exchange, ExchangeError> {
    let parse_error = |field: String, source| ExchangeError::Parse {
        path: path.to_owned(),
        field,
        source,
    };

    let mut json = serde_json::Deserializer::from_slice(bytes);
    let exchange = serde_path_to_error::deserialize(&mut json)
        .map_err(|error| parse_error(error.path().to_string(), error.into_inner()))?;
    json.end()
        .map_err(|source| parse_error(".".to_owned(), source))?;

    Ok(exchange)
}

fn validate(exchange: &Exchange) -> Result<(), ExchangeError> {
    let invalid = |field: &str, reason: String| ExchangeError::Invalid {
        path: exchange.path.clone(),
        field: field.to_owned(),
        reason,
    };
    let request = &exchange.request;
    let response = &exchange.response;

    if exchange.name.trim().is_empty() {
        return Err(invalid("name", "is empty".to_owned()));
    }

    if request.method.is_empty() || Method::from_bytes(request.method.as_bytes()).is_err() {
        return Err(invalid(
            "request.method",
            format!("`{}` is not an HTTP method", request.method),
        ));
    }
    if !request.path.starts_with('/') || request.path.contains(|c: char| c.is_ascii_whitespace()) {
        let reason = format!("`{}` must start with `/` and hold no spaces", request.path);
        return Err(invalid("request.path", reason));
    }
    check_headers("request.headers", &request.headers).map_err(|(f, r)| invalid(&f, r))?;

    let status_ok = StatusCode::from_u16(response.status).is_ok_and(|s| !s.is_informational());
    if !status_ok {
        let reason = format!(
            "{} is not a final HTTP status (200 to 999)",
            response.status
        );
        return Err(invalid("response.status", reason));
    }
    check_headers("response.headers", &response.headers).map_err(|(f, r)| invalid(&f, r))?;
    if response
        .headers
        .keys()
        .any(|name| name.eq_ignore_ascii_case(CONTENT_ENCODING.as_str()))
    {
        let reason = "is set by the mock from `response.content_encoding`".to_owned();
        return Err(invalid("response.headers.content-encoding", reason));
    }
    response
        .encoding()
        .map_err(|error| invalid("response.content_encoding", error.to_string()))?;
    if let Err(ExchangeError::Base64 { index, source }) = response.body_chunks(false) {
        let field = format!("response.chunks_base64[{index}]");
        return Err(invalid(&field, format!("is not base64: {source}")));
    }

    Ok(())
}

/// Checks that every header could be sent as it is; on failure, the field and the reason.
fn check_headers(field: &str, headers: &BTreeMap<String, String>) -> Result<(), (String, String)> {
    for (name, value) in headers {
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err((
                format!("{field}.{name}"),
                "is not a valid header name".to_owned(),
            ));
        }
        if HeaderValue::from_str(value).is_err() {
            let reason = "holds characters a header value cannot carry".to_owned();
            return Err((format!("{field}.{name}"), reason));
        }
    }
    Ok(())
}

fn check_unique_names(exchanges: &[Exchange]) -> Result<(), ExchangeError> {
    let mut first_by_name: HashMap<&str, &Path> = HashMap::new();
    for exchange in exchanges {
        if let Some(first) = first_by_name.insert(&exchange.name, &exchange.path) {
            return Err(ExchangeError::DuplicateName {
                name: exchange.name.clone(),
                first: first.to_owned(),
                second: exchange.path.clone(),
            });
        }
    }
    Ok(())
}

/// Adds `path` if it is a file, or the exchange files under it, sorted, if it is a folder.
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), ExchangeError> {
    let metadata = fs::metadata(path).map_err(|source| read_error(path, source))?;
    if !metadata.is_dir() {
        files.push(path.to_owned());
        return Ok(());
    }

    let mut found = Vec::new();
    walk(path, &mut found)?;
    found.sort();
    files.extend(found);
    Ok(())
}

fn walk(folder: &Path, found: &mut Vec<PathBuf>) -> Result<(), ExchangeError> {
    let entries = fs::read_dir(folder).map_err(|source| read_error(folder, source))?;
    for entry in entries {
        let path = entry.map_err(|source| read_error(folder, source))?.path();
        let metadata = fs::metadata(&path).map_err(|source| read_error(&path, source))?;

        if metadata.is_dir() {
            walk(&path, found)?;
        } else if is_exchange_file(&path) {
            found.push(path);
        }
    }
    Ok(())
}

fn is_exchange_file(path: &Path) -> bool {
    path.file_name()
        .and_then(OsStr::to_str)
        .is_some_and(|name| name.ends_with(".exchange.json"))
}

fn read_error(path: &Path, source: std::io::Error) -> ExchangeError {
    ExchangeError::Read {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use tempfile::TempDir;

    use super::*;

    fn minimal() -> Value {
        json!({
            "name": "minimal",
            "about": "smallest valid exchange",
            "request": { "method": "POST", "path": "/v1/messages", "body": { "model": "m" } },
            "response": { "status": 200, "chunks": ["{}"] }
        })
    }

    fn write(dir: &Path, file: &str, value: &Value) -> PathBuf {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
        path
    }

    fn load_value(value: &Value) -> Result<Exchange, ExchangeError> {
        let dir = TempDir::new().unwrap();
        load(&write(dir.path(), "case.exchange.json", value))
    }

    #[test]
    fn minimal_exchange_loads_and_remembers_its_file() {
        let dir = TempDir::new().unwrap();
        let path = write(dir.path(), "case.exchange.json", &minimal());

        let exchange = load(&path).unwrap();

        assert_eq!(exchange.name, "minimal");
        assert_eq!(exchange.path, path);
        assert!(exchange.prices.is_empty());
        assert!(exchange.expect.is_none());
    }

    #[test]
    fn unknown_top_level_field_names_file_and_field() {
        let mut value = minimal();
        value["comment"] = json!("typo");

        let message = load_value(&value).unwrap_err().to_string();

        assert!(message.contains("case.exchange.json"), "{message}");
        assert!(message.contains("unknown field `comment`"), "{message}");
    }

    #[test]
    fn unknown_nested_field_names_where_it_is() {
        let mut value = minimal();
        value["response"]["chunk_delay"] = json!(10);

        let message = load_value(&value).unwrap_err().to_string();

        assert!(message.contains("case.exchange.json"), "{message}");
        assert!(message.contains("unknown field `chunk_delay`"), "{message}");
        assert!(message.contains("`response"), "{message}");
    }

    #[test]
    fn unknown_field_in_expect_is_rejected() {
        let mut value = minimal();
        value["expect"] = json!({ "model": null, "costs": "0" });

        let message = load_value(&value).unwrap_err().to_string();

        assert!(message.contains("unknown field `costs`"), "{message}");
    }

    #[test]
    fn prices_are_free_form() {
        let mut value = minimal();
        value["prices"] = json!({ "m": { "input": "1", "anything": { "else": [1, 2] } } });

        let exchange = load_value(&value).unwrap();

        assert_eq!(exchange.prices["m"]["anything"]["else"], json!([1, 2]));
    }

    #[test]
    fn unknown_content_encoding_is_rejected() {
        let mut value = minimal();
        value["response"]["content_encoding"] = json!("zstd");

        let message = load_value(&value).unwrap_err().to_string();

        assert!(message.contains("`response.content_encoding`"), "{message}");
        assert!(message.contains("zstd"), "{message}");
    }

    #[test]
    fn content_encoding_header_is_rejected() {
        let mut value = minimal();
        value["response"]["headers"] = json!({ "Content-Encoding": "gzip" });

        let message = load_value(&value).unwrap_err().to_string();

        assert!(message.contains("response.content_encoding"), "{message}");
    }

    #[test]
    fn bad_base64_names_the_chunk() {
        let mut value = minimal();
        value["response"]["chunks_base64"] = json!(["e30=", "not base64!"]);

        let message = load_value(&value).unwrap_err().to_string();

        assert!(message.contains("`response.chunks_base64[1]`"), "{message}");
    }

    #[test]
    fn header_injection_is_rejected() {
        let mut value = minimal();
        value["response"]["headers"] = json!({ "x-a": "1\r\nx-b: 2" });

        let message = load_value(&value).unwrap_err().to_string();

        assert!(message.contains("`response.headers.x-a`"), "{message}");
    }

    #[test]
    fn informational_status_is_rejected() {
        let mut value = minimal();
        value["response"]["status"] = json!(101);

        let message = load_value(&value).unwrap_err().to_string();

        assert!(message.contains("`response.status`"), "{message}");
    }

    #[test]
    fn trailing_garbage_is_rejected() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("case.exchange.json");
        let mut bytes = serde_json::to_vec(&minimal()).unwrap();
        bytes.extend_from_slice(b" {}");
        fs::write(&path, bytes).unwrap();

        assert!(matches!(load(&path), Err(ExchangeError::Parse { .. })));
    }

    #[test]
    fn folders_are_walked_recursively_and_sorted() {
        let dir = TempDir::new().unwrap();
        for (file, name) in [("b.exchange.json", "b"), ("sub/a.exchange.json", "sub-a")] {
            let mut value = minimal();
            value["name"] = json!(name);
            write(dir.path(), file, &value);
        }
        write(dir.path(), "a.exchange.json", &minimal());
        write(dir.path(), "notes.json", &json!({ "not": "an exchange" }));

        let exchanges = load_all(&[dir.path().to_owned()]).unwrap();

        let names: Vec<_> = exchanges.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["minimal", "b", "sub-a"]);
    }

    #[test]
    fn a_file_named_twice_loads_once() {
        let dir = TempDir::new().unwrap();
        let path = write(dir.path(), "a.exchange.json", &minimal());

        let exchanges = load_all(&[dir.path().to_owned(), path]).unwrap();

        assert_eq!(exchanges.len(), 1);
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let dir = TempDir::new().unwrap();
        write(dir.path(), "a.exchange.json", &minimal());
        write(dir.path(), "b.exchange.json", &minimal());

        let message = load_all(&[dir.path().to_owned()]).unwrap_err().to_string();

        assert!(message.contains("`minimal`"), "{message}");
        assert!(message.contains("a.exchange.json"), "{message}");
        assert!(message.contains("b.exchange.json"), "{message}");
    }

    #[test]
    fn missing_path_is_a_read_error() {
        let error = load_all(&[PathBuf::from("/nonexistent/exchanges")]).unwrap_err();

        assert!(
            error
                .to_string()
                .starts_with("cannot read /nonexistent/exchanges"),
            "{error}"
        );
    }
}
