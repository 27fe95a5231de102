//! Numbers read back from columns that may hold what they should not: a REAL where an
//! integer belongs (written by an older version whose SQL sums overflowed), or an amount
//! outside its bounds.
//!
//! Such a value is clamped to the nearest valid one and logged at ERROR, never returned as
//! an error: one damaged value must not stop the control plane from starting or reporting.

use rusqlite::types::ValueRef;

use crate::money::format_usd;

/// Pico-dollars from a money column (integer text, or an INTEGER or REAL from older
/// versions), clamped into `0..=max`. `what` names the value for the log; it is only built
/// when something is wrong.
pub fn pico(value: ValueRef<'_>, max: i128, what: impl FnOnce() -> String) -> i128 {
    let (read, exact) = match value {
        ValueRef::Integer(integer) => (Some(i128::from(integer)), true),
        // `as` saturates and reads NaN as 0, which is what clamping wants.
        ValueRef::Real(real) => (Some(real as i128), false),
        ValueRef::Text(text) => {
            let text = String::from_utf8_lossy(text);
            match text.trim().parse::<i128>() {
                Ok(integer) => (Some(integer), true),
                Err(_) => (
                    text.trim().parse::<f64>().ok().map(|real| real as i128),
                    false,
                ),
            }
        }
        ValueRef::Null | ValueRef::Blob(_) => (None, false),
    };

    match read {
        Some(amount) if exact && (0..=max).contains(&amount) => amount,
        Some(amount) => {
            let clamped = amount.clamp(0, max);
            tracing::error!(
                stored = %shown(value),
                read_usd = %format_usd(clamped),
                "{} in the database is not a valid amount of pico-dollars; read as the nearest \
                 valid one. Check it and correct it",
                what()
            );
            clamped
        }
        None => {
            tracing::error!(
                stored = %shown(value),
                "{} in the database is not a number; read as 0. Check it and correct it",
                what()
            );
            0
        }
    }
}

/// A count from an INTEGER column, clamped into `0..=i64::MAX`.
pub fn count(value: ValueRef<'_>, what: impl FnOnce() -> String) -> u64 {
    let max = i128::from(i64::MAX);
    let (read, exact) = match value {
        ValueRef::Integer(integer) => (Some(i128::from(integer)), true),
        ValueRef::Real(real) => (Some(real as i128), false),
        ValueRef::Text(text) => (String::from_utf8_lossy(text).trim().parse().ok(), false),
        ValueRef::Null | ValueRef::Blob(_) => (None, false),
    };
    let clamped = read.unwrap_or(0).clamp(0, max);
    if !exact || read != Some(clamped) {
        tracing::error!(
            stored = %shown(value),
            read = %clamped,
            "{} in the database is not a valid count; read as the nearest valid one",
            what()
        );
    }
    u64::try_from(clamped).unwrap_or(0)
}

/// A stored value as the log shows it.
fn shown(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "null".to_owned(),
        ValueRef::Integer(integer) => integer.to_string(),
        ValueRef::Real(real) => format!("{real:e} (real)"),
        ValueRef::Text(text) => format!("{:?}", String::from_utf8_lossy(text)),
        ValueRef::Blob(blob) => format!("a blob of {} bytes", blob.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn what() -> String {
        "the test value".to_owned()
    }

    #[test]
    fn valid_amounts_read_as_they_are() {
        assert_eq!(pico(ValueRef::Integer(42), 100, what), 42);
        assert_eq!(pico(ValueRef::Text(b"42"), 100, what), 42);
        let big = (i128::from(i64::MAX) * 1000).to_string();
        assert_eq!(
            pico(ValueRef::Text(big.as_bytes()), i128::MAX, what),
            i128::from(i64::MAX) * 1000
        );
        assert_eq!(count(ValueRef::Integer(7), what), 7);
    }

    #[test]
    fn a_clamped_amount_is_logged_at_error() {
        let (log, _guard) = crate::logging::capture();
        assert_eq!(pico(ValueRef::Integer(42), 100, what), 42);
        assert_eq!(log.text(), "", "valid amounts log nothing");

        pico(ValueRef::Real(1.5e19), 100, || {
            "the budget of team t1".to_owned()
        });
        let text = log.text();
        assert!(text.contains("ERROR"), "{text}");
        assert!(
            text.contains("the budget of team t1 in the database"),
            "{text}"
        );
        assert!(text.contains("stored=1.5e19 (real)"), "{text}");
    }

    #[test]
    fn reals_and_out_of_range_amounts_are_clamped() {
        assert_eq!(pico(ValueRef::Real(1.5e19), 100, what), 100);
        assert_eq!(pico(ValueRef::Real(50.0), 100, what), 50);
        assert_eq!(pico(ValueRef::Real(f64::INFINITY), 100, what), 100);
        assert_eq!(pico(ValueRef::Real(-3.0), 100, what), 0);
        assert_eq!(pico(ValueRef::Text(b"1.5e+19"), 100, what), 100);
        assert_eq!(pico(ValueRef::Text(b"101"), 100, what), 100);
        assert_eq!(pico(ValueRef::Integer(-1), 100, what), 0);
        assert_eq!(pico(ValueRef::Text(b"abc"), 100, what), 0);
        assert_eq!(pico(ValueRef::Null, 100, what), 0);

        assert_eq!(count(ValueRef::Real(1e30), what), i64::MAX.unsigned_abs());
        assert_eq!(count(ValueRef::Integer(-5), what), 0);
        assert_eq!(count(ValueRef::Text(b"x"), what), 0);
    }
}
