//! `trimio alerts`: a team's webhook targets, and the history of alerts with their deliveries.

use clap::{Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Answer, Api, Request};
use crate::error::CliError;
use crate::reply::Reply;
use crate::table::{Align, Table};
use crate::view::{day, items, moment, str_of, text, text_of};

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum AlertsCommand {
    /// A team's alert targets (webhook URLs are shown cut after the host).
    Targets {
        /// The team's id or name.
        #[arg(value_parser = crate::args::team)]
        team: String,
    },
    /// Send a team's budget alerts to a webhook.
    AddTarget {
        /// The team's id or name.
        #[arg(value_parser = crate::args::team)]
        team: String,
        /// The webhook, http or https (a Slack incoming webhook with --format slack).
        #[arg(long)]
        url: String,
        /// What the webhook is sent (json when not given).
        #[arg(long, value_enum)]
        format: Option<TargetFormat>,
        /// A name to tell the team's targets apart ("default" when not given).
        #[arg(long)]
        name: Option<String>,
    },
    /// Stop sending alerts to a target.
    RemoveTarget {
        /// The target's id (`tgt_…`).
        #[arg(value_parser = crate::args::target_id)]
        id: String,
    },
    /// Alerts sent, newest first, with each delivery's state.
    List {
        /// Only this team's (id or name).
        #[arg(long)]
        team: Option<String>,
        /// At most this many.
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
}

/// What an alert target is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetFormat {
    /// A Slack message.
    Slack,
    /// The alert as JSON.
    Json,
}

impl TargetFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetFormat::Slack => "slack",
            TargetFormat::Json => "json",
        }
    }
}

impl AlertsCommand {
    pub fn request(&self) -> Request {
        match self {
            AlertsCommand::Targets { team } => {
                Request::admin(Method::GET, &["teams", team, "alert-targets"])
            }
            AlertsCommand::AddTarget {
                team,
                url,
                format,
                name,
            } => {
                let mut body = json!({"url": url});
                if let Some(format) = format {
                    body["format"] = json!(format.as_str());
                }
                if let Some(name) = name {
                    body["name"] = json!(name);
                }
                Request::admin(Method::POST, &["teams", team, "alert-targets"]).body(body)
            }
            AlertsCommand::RemoveTarget { id } => {
                Request::admin(Method::DELETE, &["alert-targets", id])
            }
            AlertsCommand::List { team, limit } => Request::admin(Method::GET, &["alerts"])
                .query_opt("team", team.as_deref())
                .query_opt("limit", limit.map(|limit| limit.to_string())),
        }
    }

    pub fn run(&self, api: &Api) -> Result<Reply, CliError> {
        if let AlertsCommand::RemoveTarget { id } = self {
            let removed = format!("removed alert target {id}\n");
            return Ok(match api.send(&self.request())? {
                Answer::Json { text, .. } => Reply::document(text, removed),
                Answer::Text(_) | Answer::Empty => {
                    Reply::made(&json!({"id": id, "deleted": true}), removed)
                }
            });
        }

        let (json, value) = api.json(&self.request())?;
        let text = match self {
            AlertsCommand::Targets { team } => targets_text(team, &value),
            AlertsCommand::AddTarget { .. } => format!(
                "added alert target {} \"{}\" ({}) for team {}: {}\n",
                text(&value, "id"),
                text(&value, "name"),
                text(&value, "format"),
                text(&value, "team"),
                text(&value, "url")
            ),
            AlertsCommand::List { .. } => alerts_text(&value),
            AlertsCommand::RemoveTarget { .. } => String::new(),
        };
        Ok(Reply::document(json, text))
    }
}

fn targets_text(team: &str, value: &Value) -> String {
    let targets = items(value, "targets");
    if targets.is_empty() {
        return format!(
            "team {team} has no alert targets; add one with `trimio alerts add-target {team} \
             --url URL`\n"
        );
    }
    let mut table = Table::new(&[
        ("ID", Align::Left),
        ("NAME", Align::Left),
        ("FORMAT", Align::Left),
        ("URL", Align::Left),
        ("CREATED", Align::Left),
    ]);
    for target in targets {
        table.row(vec![
            text(target, "id"),
            text(target, "name"),
            text(target, "format"),
            text(target, "url"),
            day(target, "created_at"),
        ]);
    }
    table.render()
}

fn alerts_text(value: &Value) -> String {
    let alerts = items(value, "alerts");
    if alerts.is_empty() {
        return "no alerts yet\n".to_owned();
    }
    let mut table = Table::new(&[
        ("ID", Align::Left),
        ("WHEN", Align::Left),
        ("TEAM", Align::Left),
        ("SCOPE", Align::Left),
        ("KIND", Align::Left),
        ("SPEND USD", Align::Right),
        ("AMOUNT USD", Align::Right),
        ("DELIVERIES", Align::Left),
    ]);
    let mut failures = Vec::new();
    for alert in alerts {
        table.row(vec![
            text(alert, "id"),
            moment(alert, "created_at"),
            text(alert, "team"),
            scope(alert),
            kind(alert),
            text(alert, "spend_usd"),
            text(alert, "amount_usd"),
            deliveries(alert),
        ]);
        for delivery in items(alert, "deliveries") {
            if str_of(delivery, "state") == Some("failed") {
                failures.push(format!(
                    "{} to {} failed after {} attempts: {}",
                    text(alert, "id"),
                    text(delivery, "target_id"),
                    text(delivery, "attempts"),
                    text(delivery, "last_error")
                ));
            }
        }
    }

    let mut out = table.render();
    if !failures.is_empty() {
        out.push('\n');
        for failure in failures {
            out.push_str(&failure);
            out.push('\n');
        }
    }
    out
}

fn scope(alert: &Value) -> String {
    match str_of(alert, "scope") {
        Some("project") => format!("project {}", text(alert, "project")),
        Some("key") => format!("key {}", text(alert, "key_id")),
        _ => text(alert, "scope"),
    }
}

fn kind(alert: &Value) -> String {
    match str_of(alert, "kind") {
        Some("threshold") => format!("{}% reached", text(alert, "threshold_percent")),
        Some("forecast") => match text_of(alert, "exhausted_on") {
            Some(day) => format!("forecast: spent by {day}"),
            None => format!("forecast: {} USD", text(alert, "projected_usd")),
        },
        _ => text(alert, "kind"),
    }
}

/// Counts by state in a fixed order: `1 sent, 1 failed`.
fn deliveries(alert: &Value) -> String {
    let deliveries = items(alert, "deliveries");
    if deliveries.is_empty() {
        return "no targets".to_owned();
    }
    let mut parts = Vec::new();
    for state in ["sent", "pending", "failed"] {
        let count = deliveries
            .iter()
            .filter(|delivery| str_of(delivery, "state") == Some(state))
            .count();
        if count > 0 {
            parts.push(format!("{count} {state}"));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_target_sends_only_what_is_given() {
        let add = |format: Option<TargetFormat>, name: Option<&str>| AlertsCommand::AddTarget {
            team: "payments".into(),
            url: "https://hooks.example/T1/B2/secret".into(),
            format,
            name: name.map(str::to_owned),
        };
        let request = add(None, None).request();
        assert_eq!(
            request.path_text(),
            "/v1/admin/teams/payments/alert-targets"
        );
        assert_eq!(
            request.body,
            Some(json!({"url": "https://hooks.example/T1/B2/secret"}))
        );
        assert_eq!(
            add(Some(TargetFormat::Slack), Some("leads")).request().body,
            Some(
                json!({"url": "https://hooks.example/T1/B2/secret", "format": "slack",
                "name": "leads"})
            )
        );
    }

    #[test]
    fn list_passes_its_filters_as_query() {
        let list = AlertsCommand::List {
            team: Some("payments".into()),
            limit: Some(20),
        };
        assert_eq!(
            list.request().query,
            vec![("team", "payments".to_owned()), ("limit", "20".to_owned())]
        );
        let all = AlertsCommand::List {
            team: None,
            limit: None,
        };
        assert!(all.request().query.is_empty());
    }

    #[test]
    fn lists_targets() {
        let targets = json!({"targets": [
            {"id": "tgt_1", "team_id": "team_1", "team": "payments", "name": "leads",
             "format": "slack", "url": "https://hooks.slack.com/…",
             "created_at": "2026-12-01T08:00:00Z"}]});
        assert_eq!(
            targets_text("payments", &targets),
            "ID     NAME   FORMAT  URL                        CREATED\n\
             tgt_1  leads  slack   https://hooks.slack.com/…  2026-12-01\n"
        );
        assert!(targets_text("payments", &json!({"targets": []})).contains("add-target"));
    }

    #[test]
    fn lists_alerts_with_delivery_states_and_failures() {
        let alerts = json!({"alerts": [
            {"id": "alt_2", "team_id": "team_1", "team": "payments", "budget_id": "bud_1",
             "scope": "project", "project": "checkout", "key_id": null, "kind": "forecast",
             "threshold_percent": null, "period_start": "2026-12-01T00:00:00Z",
             "period_end": "2027-01-01T00:00:00Z", "spend_usd": "60", "amount_usd": "100",
             "projected_usd": "130", "exhausted_on": "2026-12-24",
             "created_at": "2026-12-10T12:30:00Z", "deliveries": [
                {"target_id": "tgt_1", "state": "sent", "attempts": 1, "last_error": null,
                 "sent_at": "2026-12-10T12:30:01Z"},
                {"target_id": "tgt_2", "state": "failed", "attempts": 3,
                 "last_error": "http 500", "sent_at": null}]},
            {"id": "alt_1", "team_id": "team_1", "team": "payments", "budget_id": "bud_1",
             "scope": "team", "project": null, "key_id": null, "kind": "threshold",
             "threshold_percent": 50, "period_start": "2026-12-01T00:00:00Z",
             "period_end": "2027-01-01T00:00:00Z", "spend_usd": "50.2", "amount_usd": "100",
             "projected_usd": null, "exhausted_on": null,
             "created_at": "2026-12-09T07:00:00Z", "deliveries": []}]});
        let expected = [
            concat!(
                "ID     WHEN              TEAM      SCOPE             KIND                        ",
                "   SPEND USD  AMOUNT USD  DELIVERIES"
            ),
            concat!(
                "alt_2  2026-12-10 12:30  payments  project checkout  ",
                "forecast: spent by 2026-12-24",
                "         60         100  1 sent, 1 failed"
            ),
            concat!(
                "alt_1  2026-12-09 07:00  payments  team              50% reached                 ",
                "        50.2         100  no targets"
            ),
            "",
            "alt_2 to tgt_2 failed after 3 attempts: http 500",
        ];
        assert_eq!(alerts_text(&alerts).lines().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn failed_deliveries_cannot_write_to_the_terminal() {
        let alerts = json!({"alerts": [
            {"id": "alt_1", "kind": "threshold", "threshold_percent": 50, "deliveries": [
                {"target_id": "tgt_1\u{1b}]0;pwned\u{7}", "state": "failed", "attempts": 3,
                 "last_error": "http 500\r\nerror: forged\u{1b}[2J\u{9b}H"}]}]});
        let shown = alerts_text(&alerts);
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "{shown:?}"
        );
        assert_eq!(
            shown.lines().last(),
            Some(
                "alt_1 to tgt_1\\u{1b}]0;pwned\\u{7} failed after 3 attempts: \
                 http 500\\r\\nerror: forged\\u{1b}[2J\\u{9b}H"
            )
        );
        assert!(!shown.lines().any(|line| line.starts_with("error:")));
    }
}
