//! `trimio keys`: issue, list and revoke a team's virtual keys.

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, Request};
use crate::error::CliError;
use crate::reply::Reply;
use crate::table::{Align, Table};
use crate::view::{day, items, str_of, text, text_of};

/// Said with every newly issued key: the control plane keeps only its hash.
pub const SHOWN_ONCE: &str =
    "this is the only time the key is shown; it will not be shown again, so store it now";

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum KeysCommand {
    /// A team's keys (their prefixes; never the keys).
    List {
        /// The team's id or name.
        #[arg(value_parser = crate::args::team)]
        team: String,
    },
    /// Issue a key for a team; the key is printed once.
    Create {
        /// The team's id or name.
        #[arg(value_parser = crate::args::team)]
        team: String,
        /// What the key is for, such as the laptop or CI job that holds it.
        #[arg(long)]
        name: String,
        /// Charge every call made with the key to this project.
        #[arg(long)]
        project: Option<String>,
    },
    /// Revoke a key; calls with it are refused from the next one on.
    Revoke {
        /// The key's id (`key_…`), from `trimio keys list TEAM`.
        #[arg(value_parser = crate::args::key_id)]
        key_id: String,
    },
}

impl KeysCommand {
    pub fn request(&self) -> Request {
        match self {
            KeysCommand::List { team } => Request::admin(Method::GET, &["teams", team, "keys"]),
            KeysCommand::Create {
                team,
                name,
                project,
            } => {
                let mut body = json!({"name": name});
                if let Some(project) = project {
                    body["project"] = json!(project);
                }
                Request::admin(Method::POST, &["teams", team, "keys"]).body(body)
            }
            KeysCommand::Revoke { key_id } => Request::admin(Method::DELETE, &["keys", key_id]),
        }
    }

    pub fn run(&self, api: &Api) -> Result<Reply, CliError> {
        let (json, value) = api.json(&self.request())?;
        Ok(match self {
            KeysCommand::List { team } => Reply::document(json, list_text(team, &value)),
            KeysCommand::Create { .. } => Reply::Document {
                json,
                text: issued_text(&value),
                notice: Some(SHOWN_ONCE.to_owned()),
            },
            KeysCommand::Revoke { .. } => Reply::document(
                json,
                format!(
                    "revoked key {} at {}; calls with it are refused from now on\n",
                    text(&value, "id"),
                    text(&value, "revoked_at")
                ),
            ),
        })
    }
}

fn list_text(team: &str, value: &Value) -> String {
    let keys = items(value, "keys");
    if keys.is_empty() {
        return format!(
            "team {team} has no keys; issue one with `trimio keys create {team} --name NAME`\n"
        );
    }
    let mut table = Table::new(&[
        ("ID", Align::Left),
        ("PREFIX", Align::Left),
        ("NAME", Align::Left),
        ("PROJECT", Align::Left),
        ("CREATED", Align::Left),
        ("STATE", Align::Left),
    ]);
    for key in keys {
        let state = match str_of(key, "revoked_at") {
            Some(_) => format!("revoked {}", day(key, "revoked_at")),
            None => "active".to_owned(),
        };
        table.row(vec![
            text(key, "id"),
            text(key, "prefix"),
            text(key, "name"),
            text(key, "project"),
            day(key, "created_at"),
            state,
        ]);
    }
    table.render()
}

fn issued_text(issued: &Value) -> String {
    let project = match text_of(issued, "project") {
        Some(project) => format!(", project {project}"),
        None => String::new(),
    };
    format!(
        "issued key {} \"{}\" for team {}{project}\n\n    {}\n\n{SHOWN_ONCE}.\n",
        text(issued, "id"),
        text(issued, "name"),
        text(issued, "team"),
        text(issued, "key"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_sends_the_project_only_when_given() {
        let create = |project: Option<&str>| KeysCommand::Create {
            team: "payments".into(),
            name: "ci".into(),
            project: project.map(str::to_owned),
        };
        assert_eq!(create(None).request().body, Some(json!({"name": "ci"})));
        let request = create(Some("checkout")).request();
        assert_eq!(
            request.body,
            Some(json!({"name": "ci", "project": "checkout"}))
        );
        assert_eq!(request.path_text(), "/v1/admin/teams/payments/keys");

        let revoke = KeysCommand::Revoke {
            key_id: "key_9".into(),
        };
        assert_eq!(revoke.request().method, Method::DELETE);
        assert_eq!(revoke.request().path_text(), "/v1/admin/keys/key_9");
    }

    #[test]
    fn prints_a_new_key_once_with_the_warning() {
        let issued = json!({"id": "key_1", "key": "tmk_abcdef", "prefix": "tmk_abcd",
            "team_id": "team_1", "team": "payments", "name": "ci", "project": "checkout",
            "created_at": "2026-12-03T10:11:12Z"});
        let rendered = issued_text(&issued);
        assert_eq!(
            rendered,
            "issued key key_1 \"ci\" for team payments, project checkout\n\n    tmk_abcdef\n\n\
             this is the only time the key is shown; it will not be shown again, so store it \
             now.\n"
        );
        assert_eq!(rendered.matches("tmk_abcdef").count(), 1);

        let hostile = json!({"id": "key_1", "key": "tmk_x\u{1b}[2J", "name": "ci\nerror: x",
            "team": "payments", "project": "\u{9b}H"});
        assert_eq!(
            issued_text(&hostile),
            "issued key key_1 \"ci\\nerror: x\" for team payments, project \\u{9b}H\n\n    \
             tmk_x\\u{1b}[2J\n\n\
             this is the only time the key is shown; it will not be shown again, so store it \
             now.\n"
        );
    }

    #[test]
    fn lists_keys_with_their_state() {
        let keys = json!({"keys": [
            {"id": "key_1", "prefix": "tmk_abcd", "name": "ci", "project": null, "team_id": "t",
             "created_at": "2026-12-03T10:11:12Z", "revoked_at": null},
            {"id": "key_2", "prefix": "tmk_ef01", "name": "laptop", "project": "checkout",
             "team_id": "t", "created_at": "2026-12-01T00:00:00Z",
             "revoked_at": "2026-12-04T08:00:00Z"}]});
        assert_eq!(
            list_text("payments", &keys),
            "ID     PREFIX    NAME    PROJECT   CREATED     STATE\n\
             key_1  tmk_abcd  ci      -         2026-12-03  active\n\
             key_2  tmk_ef01  laptop  checkout  2026-12-01  revoked 2026-12-04\n"
        );
        assert!(list_text("payments", &json!({"keys": []})).contains("trimio keys create"));
    }
}
