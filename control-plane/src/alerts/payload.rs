//! The bodies posted to webhook targets.

use serde_json::{Value, json};

use crate::alerts::{NewAlert, TargetFormat};
use crate::money::format_usd;

/// The body for a target of `format`.
pub fn body(alert: &NewAlert, team: &str, format: TargetFormat) -> Value {
    match format {
        TargetFormat::Slack => json!({ "text": format!(":warning: Trimio: {}", alert.message) }),
        TargetFormat::Json => json!({
            "id": alert.id,
            "kind": alert.kind.name(),
            "threshold_percent": match alert.kind.threshold() {
                0 => Value::Null,
                percent => json!(percent),
            },
            "team_id": alert.team_id,
            "team": team,
            "budget_id": alert.budget_id,
            "scope": alert.scope,
            "project": alert.project,
            "key_id": alert.key_id,
            "period_start": alert.period_start,
            "period_end": alert.period_end,
            "spend_usd": format_usd(alert.spend_pico),
            "amount_usd": format_usd(alert.amount_pico),
            "projected_usd": alert.projected_pico.map(format_usd),
            "exhausted_on": alert.exhausted_on,
            "message": alert.message,
            "created_at": alert.created_at,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::AlertKind;

    #[test]
    fn slack_gets_text_and_json_gets_the_facts() {
        let alert = NewAlert {
            id: "alt_1".into(),
            budget_id: "bud_1".into(),
            team_id: "team_1".into(),
            scope: "team",
            project: None,
            key_id: None,
            kind: AlertKind::Threshold(80),
            period_key: "month:2026-12-01".into(),
            period_start: "2026-12-01T00:00:00+00:00".into(),
            period_end: "2027-01-01T00:00:00+00:00".into(),
            spend_pico: 810_000_000_000,
            amount_pico: 1_000_000_000_000,
            projected_pico: None,
            exhausted_on: None,
            message: "team \"payments\" has used 80%".into(),
            created_at: "2026-12-04T10:00:00Z".into(),
            created_at_ms: 0,
        };
        assert_eq!(
            body(&alert, "payments", TargetFormat::Slack),
            json!({"text": ":warning: Trimio: team \"payments\" has used 80%"})
        );
        let plain = body(&alert, "payments", TargetFormat::Json);
        assert_eq!(plain["threshold_percent"], 80);
        assert_eq!(plain["spend_usd"], "0.81");
        assert_eq!(plain["amount_usd"], "1");
        assert_eq!(plain["team"], "payments");
    }
}
