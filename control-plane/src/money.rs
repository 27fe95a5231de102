//! Money as integers: exact decimal strings in, exact decimal strings out.
//!
//! Amounts are never floats. Prices, budgets and multipliers arrive as decimal strings and are
//! read into integers scaled by a fixed power of ten; costs are pico-dollars (1e-12 USD).

use thiserror::Error;

/// Pico-dollars in one US dollar.
pub const PICO_PER_USD: i128 = 1_000_000_000_000;

/// Integer digits accepted before the point: keeps every scaled value far inside `i128`.
pub const MAX_INTEGER_DIGITS: usize = 15;

/// Why a decimal string was refused. The caller adds which field it was.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecimalError {
    /// Nothing was given.
    #[error("is empty; give a decimal number such as \"0.30\"")]
    Empty,
    /// A minus sign: prices, budgets and multipliers are never negative.
    #[error("\"{0}\" is negative; give zero or more")]
    Negative(String),
    /// Something other than digits and one point.
    #[error(
        "\"{0}\" is not a plain decimal number; use digits and at most one point, e.g. \"0.30\""
    )]
    Malformed(String),
    /// More fractional digits than the unit can hold exactly.
    #[error("\"{text}\" has more than {max} decimal places")]
    TooPrecise { text: String, max: u32 },
    /// More integer digits than any real amount needs.
    #[error("\"{0}\" is too large")]
    TooLarge(String),
}

/// Reads a non-negative decimal string into an integer of `10^-places` units.
///
/// `parse_scaled("0.3125", 6)` is `312_500`. Refuses signs, exponents, spaces and more than
/// `places` fractional digits, so the result is always exact.
pub fn parse_scaled(text: &str, places: u32) -> Result<i128, DecimalError> {
    if text.is_empty() {
        return Err(DecimalError::Empty);
    }
    if text.starts_with('-') {
        return Err(DecimalError::Negative(text.to_owned()));
    }

    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let has_digits = !whole.is_empty() || !fraction.is_empty();
    if !has_digits || !all_digits(whole) || !all_digits(fraction) {
        return Err(DecimalError::Malformed(text.to_owned()));
    }
    if fraction.len() > places as usize {
        return Err(DecimalError::TooPrecise {
            text: text.to_owned(),
            max: places,
        });
    }
    if whole.trim_start_matches('0').len() > MAX_INTEGER_DIGITS {
        return Err(DecimalError::TooLarge(text.to_owned()));
    }

    let mut value: i128 = 0;
    for digit in whole.bytes().chain(fraction.bytes()) {
        value = value * 10 + i128::from(digit - b'0');
    }
    for _ in fraction.len()..places as usize {
        value *= 10;
    }
    Ok(value)
}

/// Reads a US dollar amount (up to 12 decimal places) into pico-dollars.
pub fn parse_usd(text: &str) -> Result<i128, DecimalError> {
    parse_scaled(text, 12)
}

/// Writes `value` units of `10^-places` as an exact decimal with trailing zeros trimmed.
///
/// `format_scaled(312_500, 6)` is `"0.3125"`; zero is `"0"`.
pub fn format_scaled(value: i128, places: u32) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    let unit = 10u128.pow(places);
    let whole = magnitude / unit;
    let fraction = magnitude % unit;
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{fraction:0width$}", width = places as usize);
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

/// Writes pico-dollars as exact US dollars: `18_369_000_000` is `"0.018369"`.
pub fn format_usd(pico: i128) -> String {
    format_scaled(pico, 12)
}

/// `a + b` for sums of pico-dollars.
///
/// Every cost is bounded, so no real sum comes near the range of `i128`. Should one reach
/// it, the sum stops at the bound and an error is logged: a wrapped or panicking sum would
/// be worse than a saturated one.
pub fn add_pico(a: i128, b: i128) -> i128 {
    a.checked_add(b).unwrap_or_else(|| {
        tracing::error!(
            a,
            b,
            "a sum of pico-dollars overflowed i128; it is held at the bound"
        );
        if b > 0 { i128::MAX } else { i128::MIN }
    })
}

/// Writes pico-dollars as dollars and cents for people, rounded half up: `"10.02"`.
pub fn format_cents(pico: i128) -> String {
    let pico_per_cent = PICO_PER_USD / 100;
    let cents = (pico + pico_per_cent / 2).div_euclid(pico_per_cent);
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exact_decimals() {
        assert_eq!(parse_scaled("3", 6), Ok(3_000_000));
        assert_eq!(parse_scaled("0.3125", 6), Ok(312_500));
        assert_eq!(parse_scaled("22.5", 6), Ok(22_500_000));
        assert_eq!(parse_scaled("0.000001", 6), Ok(1));
        assert_eq!(parse_scaled(".5", 6), Ok(500_000));
        assert_eq!(parse_scaled("5.", 6), Ok(5_000_000));
        assert_eq!(parse_scaled("007", 6), Ok(7_000_000));
        assert_eq!(parse_usd("0.10"), Ok(100_000_000_000));
        assert_eq!(parse_usd("100"), Ok(100 * PICO_PER_USD));
    }

    #[test]
    fn refuses_what_is_not_exact_or_not_a_plain_decimal() {
        assert_eq!(parse_scaled("", 6), Err(DecimalError::Empty));
        assert_eq!(
            parse_scaled("-1", 6),
            Err(DecimalError::Negative("-1".into()))
        );
        assert!(matches!(
            parse_scaled("0.0000001", 6),
            Err(DecimalError::TooPrecise { .. })
        ));
        for bad in [
            ".", "1e3", "+1", " 1", "1 ", "1.2.3", "0x10", "1,5", "NaN", "٣",
        ] {
            assert!(
                matches!(parse_scaled(bad, 6), Err(DecimalError::Malformed(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_scaled("9999999999999999", 6),
            Err(DecimalError::TooLarge(_))
        ));
        assert_eq!(parse_scaled("000000000000000000001", 6), Ok(1_000_000));
    }

    #[test]
    fn errors_say_what_to_do() {
        let message = parse_scaled("-2", 6).unwrap_err().to_string();
        assert_eq!(message, "\"-2\" is negative; give zero or more");
        let message = parse_scaled("0.1234567", 6).unwrap_err().to_string();
        assert_eq!(message, "\"0.1234567\" has more than 6 decimal places");
    }

    #[test]
    fn writes_exact_dollars_with_trailing_zeros_trimmed() {
        assert_eq!(format_usd(18_369_000_000), "0.018369");
        assert_eq!(format_usd(100_000_000), "0.0001");
        assert_eq!(format_usd(0), "0");
        assert_eq!(format_usd(85_856_250_000), "0.08585625");
        assert_eq!(format_usd(100 * PICO_PER_USD), "100");
        assert_eq!(format_usd(1), "0.000000000001");
        assert_eq!(format_usd(-1_500_000_000_000), "-1.5");
        assert_eq!(format_scaled(1_750_000, 6), "1.75");
    }

    #[test]
    fn sums_saturate_instead_of_wrapping() {
        assert_eq!(add_pico(2, 3), 5);
        assert_eq!(add_pico(i128::MAX - 1, 5), i128::MAX);
        assert_eq!(add_pico(i128::MIN + 1, -5), i128::MIN);
    }

    #[test]
    fn rounds_cents_half_up_for_people() {
        assert_eq!(format_cents(10_020_000_000_000), "10.02");
        assert_eq!(format_cents(10 * PICO_PER_USD), "10.00");
        assert_eq!(format_cents(4_999_999_999), "0.00");
        assert_eq!(format_cents(5_000_000_000), "0.01");
        assert_eq!(format_cents(9_995_000_000_000), "10.00");
        assert_eq!(format_cents(0), "0.00");
    }
}
