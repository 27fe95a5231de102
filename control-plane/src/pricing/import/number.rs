//! JSON number literals read exactly, as decimal strings, never through a float.
//!
//! Price maps write per-token costs as JSON numbers (`3e-06`, `0.0000003125`). A float cannot
//! hold most of them exactly, so the literal text is read digit by digit and its decimal
//! point moved by a power of ten (per token to per million tokens is a shift of 6).

use thiserror::Error;

use crate::money::MAX_INTEGER_DIGITS;

/// Digits accepted in an exponent; anything longer is far outside every price.
const MAX_EXPONENT_DIGITS: usize = 6;

/// A JSON value that cannot become an exact decimal amount.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NumberError {
    /// A string, null, object or anything else than a JSON number.
    #[error("{0} is not a json number")]
    NotANumber(String),
    #[error("{0} is negative; prices are zero or more")]
    Negative(String),
    /// The amount, after the shift, has more fractional digits than the unit holds.
    #[error("{text} needs more than {places} decimal places {unit}")]
    TooPrecise {
        text: String,
        places: u32,
        unit: &'static str,
    },
    #[error("{0} is too large to be a price")]
    TooLarge(String),
}

/// The parts of a JSON number literal: `-?digits(.digits)?([eE][+-]?digits)?`.
struct Literal<'a> {
    negative: bool,
    whole: &'a str,
    fraction: &'a str,
    /// `None` when the exponent has more digits than any price needs.
    exponent: Option<i64>,
    exponent_negative: bool,
}

/// Writes the JSON number `literal` times `10^shift` as an exact decimal string with at most
/// `places` fractional digits, trailing zeros trimmed: `shift_decimal("3.75e-06", 6, 6, ..)`
/// is `"3.75"`.
///
/// `unit` names what the result is in, for the error message ("in usd per million tokens").
pub fn shift_decimal(
    literal: &str,
    shift: i64,
    places: u32,
    unit: &'static str,
) -> Result<String, NumberError> {
    let literal = literal.trim();
    let parts = split(literal).ok_or_else(|| NumberError::NotANumber(literal.to_owned()))?;

    // The value is `digits × 10^scale`, with every digit of the literal in `digits`.
    let digits = format!("{}{}", parts.whole, parts.fraction);
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Ok("0".to_owned());
    }
    if parts.negative {
        return Err(NumberError::Negative(literal.to_owned()));
    }
    let too_precise = || NumberError::TooPrecise {
        text: literal.to_owned(),
        places,
        unit,
    };
    let Some(exponent) = parts.exponent else {
        return Err(if parts.exponent_negative {
            too_precise()
        } else {
            NumberError::TooLarge(literal.to_owned())
        });
    };
    let trimmed = significant.trim_end_matches('0');
    let trailing_zeros = significant.len() - trimmed.len();
    let fraction_len = i64::try_from(parts.fraction.len()).map_err(|_| too_precise())?;
    let scale = exponent - fraction_len + shift + as_i64(trailing_zeros);

    if scale >= 0 {
        if as_i64(trimmed.len()) + scale > as_i64(MAX_INTEGER_DIGITS) {
            return Err(NumberError::TooLarge(literal.to_owned()));
        }
        let zeros = "0".repeat(usize::try_from(scale).unwrap_or(0));
        return Ok(format!("{trimmed}{zeros}"));
    }

    let fractional = usize::try_from(-scale).map_err(|_| too_precise())?;
    if fractional > places as usize {
        return Err(too_precise());
    }
    if trimmed.len() > fractional {
        let (whole, fraction) = trimmed.split_at(trimmed.len() - fractional);
        if whole.len() > MAX_INTEGER_DIGITS {
            return Err(NumberError::TooLarge(literal.to_owned()));
        }
        return Ok(format!("{whole}.{fraction}"));
    }
    let zeros = "0".repeat(fractional - trimmed.len());
    Ok(format!("0.{zeros}{trimmed}"))
}

fn as_i64(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Splits a literal by JSON's number grammar; `None` when it is not a JSON number.
fn split(literal: &str) -> Option<Literal<'_>> {
    let (negative, rest) = match literal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, literal),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) if digits(fraction) => (whole, fraction),
        Some(_) => return None,
        None => (mantissa, ""),
    };
    let leading_zero = whole.len() > 1 && whole.starts_with('0');
    if !digits(whole) || leading_zero {
        return None;
    }

    let (exponent, exponent_negative) = match exponent {
        None => (Some(0), false),
        Some(text) => {
            let (negative, magnitude) = match text.strip_prefix(['-', '+']) {
                Some(magnitude) => (text.starts_with('-'), magnitude),
                None => (false, text),
            };
            if !digits(magnitude) {
                return None;
            }
            let magnitude = magnitude.trim_start_matches('0');
            let value = if magnitude.len() > MAX_EXPONENT_DIGITS {
                None
            } else {
                let value: i64 = magnitude.parse().unwrap_or(0);
                Some(if negative { -value } else { value })
            };
            (value, negative)
        }
    };
    Some(Literal {
        negative,
        whole,
        fraction,
        exponent,
        exponent_negative,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PER_MILLION: &str = "in usd per million tokens";

    fn per_million(literal: &str) -> Result<String, NumberError> {
        shift_decimal(literal, 6, 6, PER_MILLION)
    }

    #[test]
    fn per_token_costs_become_exact_prices_per_million() {
        let cases = [
            ("3e-06", "3"),
            ("3E-06", "3"),
            ("3e-6", "3"),
            ("3.75e-06", "3.75"),
            ("1.5e-05", "15"),
            ("2.25e-05", "22.5"),
            ("3e-07", "0.3"),
            ("3.125e-07", "0.3125"),
            ("0.0000003125", "0.3125"),
            ("0.000003", "3"),
            ("0.00015", "150"),
            ("1e-12", "0.000001"),
            ("0.000000000001", "0.000001"),
            ("0", "0"),
            ("0.0", "0"),
            ("0e-10", "0"),
            ("-0.0", "0"),
            ("1", "1000000"),
            ("1.0e+2", "100000000"),
            ("12e-7", "1.2"),
            ("0.000001000000", "1"),
            ("7.5e-08", "0.075"),
        ];
        for (literal, expected) in cases {
            assert_eq!(per_million(literal).as_deref(), Ok(expected), "{literal}");
        }
    }

    #[test]
    fn searches_per_query_become_prices_per_thousand() {
        let per_1k = |literal| shift_decimal(literal, 3, 6, "in usd per 1000 searches");
        assert_eq!(per_1k("0.01").as_deref(), Ok("10"));
        assert_eq!(per_1k("0.035").as_deref(), Ok("35"));
        assert_eq!(per_1k("2.5e-02").as_deref(), Ok("25"));
    }

    #[test]
    fn refuses_what_a_price_cannot_hold_exactly() {
        assert_eq!(
            per_million("3.0000001e-06"),
            Err(NumberError::TooPrecise {
                text: "3.0000001e-06".into(),
                places: 6,
                unit: PER_MILLION
            })
        );
        assert!(matches!(
            per_million("1e-13"),
            Err(NumberError::TooPrecise { .. })
        ));
        assert!(matches!(
            per_million("1e-9999999999"),
            Err(NumberError::TooPrecise { .. })
        ));
        assert_eq!(
            per_million("-1.5e-07"),
            Err(NumberError::Negative("-1.5e-07".into()))
        );
        assert!(matches!(per_million("1e9"), Err(NumberError::TooLarge(_))));
        assert!(matches!(
            per_million("1e9999999999"),
            Err(NumberError::TooLarge(_))
        ));
        assert!(matches!(
            per_million("12345678901234567890.5"),
            Err(NumberError::TooLarge(_))
        ));
    }

    #[test]
    fn refuses_what_is_not_a_json_number() {
        for bad in [
            "\"3e-06\"",
            "null",
            "true",
            "{}",
            "[1]",
            "",
            "-",
            ".5",
            "5.",
            "01",
            "1e",
            "1e+",
            "+1",
            "1.2.3",
            "0x10",
            "NaN",
            "Infinity",
            "1_000",
            "1 2",
        ] {
            assert!(
                matches!(per_million(bad), Err(NumberError::NotANumber(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn messages_name_the_literal_and_the_unit() {
        let message = per_million("1e-13").unwrap_err().to_string();
        assert_eq!(
            message,
            "1e-13 needs more than 6 decimal places in usd per million tokens"
        );
        let message = per_million("\"x\"").unwrap_err().to_string();
        assert_eq!(message, "\"x\" is not a json number");
    }
}
