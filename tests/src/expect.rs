//! Checks a ledger record against an exchange's `expect`.

use serde_json::Value;
use trimio_mock_provider::exchange::Expect;

/// Ok when the record agrees with `expect`: model, estimated, every usage kind (for
/// estimated calls, output within `output_range`), and cost within one micro-dollar (no
/// `cost_usd` in `expect`: the call must be recorded unpriced).
pub fn check(expect: &Expect, record: &Value) -> Result<(), String> {
    if record["model"].as_str() != expect.model.as_deref() {
        return Err(format!("model {} != {:?}", record["model"], expect.model));
    }
    if record["estimated"].as_bool() != Some(expect.estimated) {
        return Err(format!(
            "estimated {} != {}",
            record["estimated"], expect.estimated
        ));
    }
    for (kind, count) in &expect.usage {
        if expect.estimated && kind == "output" {
            continue;
        }
        if record["usage"][kind].as_u64() != Some(*count) {
            return Err(format!("usage.{kind} {} != {count}", record["usage"][kind]));
        }
    }
    if expect.estimated {
        let output = record["usage"]["output"].as_u64().unwrap_or(0);
        return match expect.output_range {
            Some([lo, hi]) if !(lo..=hi).contains(&output) => {
                Err(format!("estimated output {output} outside [{lo}, {hi}]"))
            }
            _ => Ok(()),
        };
    }
    let Some(want) = &expect.cost_usd else {
        // No cost expected: the model has no price, and the record must say so, not zero.
        return match (record["cost_usd"].is_null(), record["unpriced"].as_bool()) {
            (true, Some(true)) => Ok(()),
            _ => Err(format!(
                "expected unpriced, got cost_usd {}",
                record["cost_usd"]
            )),
        };
    };
    let got = record["cost_usd"].as_str().unwrap_or("none");
    match (pico(want), pico(got)) {
        (Some(a), Some(b)) if a.abs_diff(b) <= 1_000_000 => Ok(()),
        _ => Err(format!("cost_usd {got} != {want}")),
    }
}

/// A decimal USD string in pico-dollars (1e-12 USD).
pub fn pico(decimal: &str) -> Option<i128> {
    let (whole, frac) = decimal.split_once('.').unwrap_or((decimal, ""));
    if frac.len() > 12 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i128 = whole.parse().ok()?;
    let frac: i128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<12}").parse().ok()?
    };
    Some(whole * 1_000_000_000_000 + frac)
}

#[cfg(test)]
mod tests {
    use super::pico;

    #[test]
    fn reads_decimal_dollars() {
        assert_eq!(pico("0.018369"), Some(18_369_000_000));
        assert_eq!(pico("0"), Some(0));
        assert_eq!(pico("12.5"), Some(12_500_000_000_000));
        assert_eq!(pico("1.x"), None);
    }
}
