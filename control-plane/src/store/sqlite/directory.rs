//! Teams, keys and prices in SQLite.

use rusqlite::{Connection, params};

use crate::keys::Key;
use crate::pricing::PriceEntry;
use crate::store::sqlite::{Context, budgets, is_constraint};
use crate::store::{Directory, StoreError};
use crate::teams::Team;

pub fn load(conn: &Connection) -> Result<Directory, StoreError> {
    Ok(Directory {
        teams: teams(conn)?,
        keys: keys(conn)?,
        budgets: budgets::budgets(conn)?,
        targets: budgets::targets(conn)?,
        prices: prices(conn)?,
    })
}

fn teams(conn: &Connection) -> Result<Vec<Team>, StoreError> {
    let mut statement = conn
        .prepare("SELECT id, name, created_at FROM teams ORDER BY created_at, id")
        .context("read teams")?;
    let rows = statement
        .query_map([], |row| {
            Ok(Team {
                id: row.get(0)?,
                name: row.get(1)?,
                created_at: row.get(2)?,
            })
        })
        .context("read teams")?;
    rows.collect::<Result<_, _>>().context("read teams")
}

fn keys(conn: &Connection) -> Result<Vec<Key>, StoreError> {
    let mut statement = conn
        .prepare(
            "SELECT id, team_id, name, project, key_hash, prefix, created_at, revoked_at
             FROM keys ORDER BY created_at, id",
        )
        .context("read keys")?;
    let rows = statement
        .query_map([], |row| {
            Ok(Key {
                id: row.get(0)?,
                team_id: row.get(1)?,
                name: row.get(2)?,
                project: row.get(3)?,
                key_hash: row.get(4)?,
                prefix: row.get(5)?,
                created_at: row.get(6)?,
                revoked_at: row.get(7)?,
            })
        })
        .context("read keys")?;
    rows.collect::<Result<_, _>>().context("read keys")
}

fn prices(conn: &Connection) -> Result<Vec<(String, PriceEntry)>, StoreError> {
    let mut statement = conn
        .prepare("SELECT model, json FROM prices ORDER BY model")
        .context("read prices")?;
    let rows = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .context("read prices")?;
    let mut prices = Vec::new();
    for row in rows {
        let (model, json) = row.context("read prices")?;
        match serde_json::from_str(&json) {
            Ok(entry) => prices.push((model, entry)),
            // One damaged price must not stop the control plane from starting.
            Err(error) => tracing::error!(
                model = %model,
                %error,
                "stored price is not a price entry and is skipped; set it again through the api"
            ),
        }
    }
    Ok(prices)
}

/// Fails with a conflict when the name is taken in any case.
pub fn insert_team(conn: &Connection, team: &Team) -> Result<(), StoreError> {
    let inserted = conn.execute(
        "INSERT INTO teams (id, name, created_at) VALUES (?1, ?2, ?3)",
        params![team.id, team.name, team.created_at],
    );
    match inserted {
        Err(error) if is_constraint(&error) => {
            Err(StoreError::Conflict(format!("team \"{}\"", team.name)))
        }
        other => other.map(drop).context("insert a team"),
    }
}

pub fn insert_key(conn: &Connection, key: &Key) -> Result<(), StoreError> {
    let inserted = conn.execute(
        "INSERT INTO keys (id, team_id, name, project, key_hash, prefix, created_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            key.id,
            key.team_id,
            key.name,
            key.project,
            key.key_hash,
            key.prefix,
            key.created_at,
            key.revoked_at
        ],
    );
    match inserted {
        Err(error) if is_constraint(&error) => Err(StoreError::Conflict(format!("key {}", key.id))),
        other => other.map(drop).context("insert a key"),
    }
}

/// Keeps the first revocation time when a key is revoked twice.
pub fn revoke_key(conn: &Connection, key_id: &str, revoked_at: &str) -> Result<(), StoreError> {
    let changed = conn
        .execute(
            "UPDATE keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
            params![key_id, revoked_at],
        )
        .context("revoke a key")?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("key {key_id}")));
    }
    Ok(())
}

pub fn put_price(
    conn: &Connection,
    model: &str,
    entry: &PriceEntry,
    updated_at: &str,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(entry).map_err(|error| StoreError::Backend {
        context: "encode a price",
        source: error.into(),
    })?;
    conn.execute(
        "INSERT INTO prices (model, json, effective_date, source, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (model) DO UPDATE SET json = excluded.json,
             effective_date = excluded.effective_date, source = excluded.source,
             updated_at = excluded.updated_at",
        params![model, json, entry.effective_date, entry.source, updated_at],
    )
    .context("store a price")?;
    Ok(())
}

pub fn put_prices(
    conn: &mut Connection,
    prices: &[(String, PriceEntry)],
    updated_at: &str,
) -> Result<(), StoreError> {
    let transaction = conn.transaction().context("begin a price import")?;
    for (model, entry) in prices {
        put_price(&transaction, model, entry, updated_at)?;
    }
    transaction.commit().context("commit a price import")
}

pub fn delete_price(conn: &Connection, model: &str) -> Result<bool, StoreError> {
    let deleted = conn
        .execute("DELETE FROM prices WHERE model = ?1", params![model])
        .context("delete a price")?;
    Ok(deleted > 0)
}

#[cfg(test)]
mod tests {
    use crate::budgets::{MAX_BUDGET_PICO, Scope, budget_for_tests};
    use crate::keys::Key;
    use crate::pricing::PriceEntry;
    use crate::store::{SqliteStore, Store, StoreError};
    use crate::teams::Team;

    fn team(id: &str, name: &str) -> Team {
        Team {
            id: id.into(),
            name: name.into(),
            created_at: "2025-12-01T00:00:00Z".into(),
        }
    }

    fn key(id: &str, team_id: &str, hash: &str) -> Key {
        Key {
            id: id.into(),
            team_id: team_id.into(),
            name: "laptop".into(),
            project: Some("checkout".into()),
            key_hash: hash.into(),
            prefix: "tmk_abcd".into(),
            created_at: "2025-12-01T00:00:00Z".into(),
            revoked_at: None,
        }
    }

    #[test]
    fn teams_keys_and_prices_round_trip() {
        let store = SqliteStore::in_memory().unwrap();
        store.insert_team(&team("t1", "payments"), None).unwrap();
        store.insert_key(&key("k1", "t1", "h1")).unwrap();
        store.revoke_key("k1", "2025-12-02T00:00:00Z").unwrap();
        store.revoke_key("k1", "2025-12-03T00:00:00Z").unwrap();
        let entry: PriceEntry = serde_json::from_str(r#"{"input":"1","output":"2"}"#).unwrap();
        store
            .put_price("m", &entry, "2025-12-01T00:00:00Z")
            .unwrap();
        store
            .put_price("m", &entry, "2025-12-02T00:00:00Z")
            .unwrap();

        let directory = store.load_directory().unwrap();
        assert!(directory.budgets.is_empty());
        assert_eq!(
            directory.keys[0].revoked_at.as_deref(),
            Some("2025-12-02T00:00:00Z")
        );
        assert_eq!(directory.prices, vec![("m".to_owned(), entry)]);

        assert!(store.delete_price("m").unwrap());
        assert!(!store.delete_price("m").unwrap());
    }

    #[test]
    fn budgets_past_64_bits_round_trip_and_one_per_scope() {
        let store = SqliteStore::in_memory().unwrap();
        let big = budget_for_tests("b1", "t1", Scope::Team, MAX_BUDGET_PICO);
        store
            .insert_team(&team("t1", "payments"), Some(&big))
            .unwrap();
        store.insert_team(&team("t2", "search"), None).unwrap();
        let mut odd = budget_for_tests("b2", "t2", Scope::Project("web".into()), 5);
        store.insert_budget(&odd).unwrap();
        odd.amount_pico = i128::from(i64::MAX) + 1;
        odd.thresholds = vec![10, 90];
        store.update_budget(&odd).unwrap();
        let again = budget_for_tests("b3", "t2", Scope::Project("web".into()), 5);
        assert!(matches!(
            store.insert_budget(&again),
            Err(StoreError::Conflict(_))
        ));

        let budgets = store.load_directory().unwrap().budgets;
        assert_eq!(budgets, vec![big, odd]);
        assert!(store.delete_budget("b2").unwrap());
        assert!(!store.delete_budget("b2").unwrap());
    }

    #[test]
    fn an_import_replaces_the_prices_it_names_and_keeps_the_rest() {
        let store = SqliteStore::in_memory().unwrap();
        let entry = |input: &str| -> PriceEntry {
            serde_json::from_str(&format!(r#"{{"input":"{input}","output":"2"}}"#)).unwrap()
        };
        store.put_price("a", &entry("1"), "t0").unwrap();
        store.put_price("b", &entry("1"), "t0").unwrap();

        let import = [("b".to_owned(), entry("5")), ("c".to_owned(), entry("6"))];
        store.put_prices(&import, "t1").unwrap();
        store.put_prices(&[], "t2").unwrap();

        let prices = store.load_directory().unwrap().prices;
        let inputs: Vec<(&str, &str)> = prices
            .iter()
            .map(|(model, entry)| (model.as_str(), entry.input.as_str()))
            .collect();
        assert_eq!(inputs, [("a", "1"), ("b", "5"), ("c", "6")]);
    }

    #[test]
    fn conflicts_and_misses_are_told_apart() {
        let store = SqliteStore::in_memory().unwrap();
        store.insert_team(&team("t1", "payments"), None).unwrap();
        for taken in ["payments", "Payments", "PAYMENTS"] {
            let duplicate = store.insert_team(&team("t2", taken), None);
            assert!(matches!(duplicate, Err(StoreError::Conflict(_))), "{taken}");
        }
        let nowhere = budget_for_tests("b9", "nope", Scope::Team, 1);
        assert!(matches!(
            store.update_budget(&nowhere),
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store.revoke_key("nope", "x"),
            Err(StoreError::NotFound(_))
        ));

        store.insert_key(&key("k1", "t1", "h1")).unwrap();
        assert!(matches!(
            store.insert_key(&key("k2", "t1", "h1")),
            Err(StoreError::Conflict(_))
        ));
    }
}
