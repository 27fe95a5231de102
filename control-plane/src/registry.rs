//! Teams and keys in memory: what admission and attribution read, never the disk.

use std::collections::HashMap;

use crate::keys::Key;
use crate::teams::Team;

/// Every team and key, indexed the ways the decision path needs.
#[derive(Debug, Default)]
pub struct Registry {
    teams: HashMap<String, Team>,
    /// Team ids by name folded to lowercase: names are unique whatever their case.
    team_by_name: HashMap<String, String>,
    keys: HashMap<String, Key>,
    key_by_id: HashMap<String, String>,
}

impl Registry {
    pub fn new(teams: Vec<Team>, keys: Vec<Key>) -> Registry {
        let mut registry = Registry::default();
        for team in teams {
            registry.add_team(team);
        }
        for key in keys {
            registry.add_key(key);
        }
        registry
    }

    pub fn add_team(&mut self, team: Team) {
        self.team_by_name.insert(fold(&team.name), team.id.clone());
        self.teams.insert(team.id.clone(), team);
    }

    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.get(id)
    }

    /// The team whose name is `name` in any case.
    pub fn team_named(&self, name: &str) -> Option<&Team> {
        self.team_by_name
            .get(&fold(name))
            .and_then(|id| self.teams.get(id))
    }

    /// A team by its id or, failing that, its name in any case.
    pub fn find_team(&self, id_or_name: &str) -> Option<&Team> {
        self.teams
            .get(id_or_name)
            .or_else(|| self.team_named(id_or_name))
    }

    /// Every team, oldest first.
    pub fn teams(&self) -> Vec<&Team> {
        let mut teams: Vec<&Team> = self.teams.values().collect();
        teams.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
        teams
    }

    pub fn add_key(&mut self, key: Key) {
        self.key_by_id.insert(key.id.clone(), key.key_hash.clone());
        self.keys.insert(key.key_hash.clone(), key);
    }

    /// The key whose SHA-256 is `hash`.
    pub fn key_by_hash(&self, hash: &str) -> Option<&Key> {
        self.keys.get(hash)
    }

    pub fn key(&self, id: &str) -> Option<&Key> {
        self.key_by_id.get(id).and_then(|hash| self.keys.get(hash))
    }

    /// Keeps the first revocation time, as the store does.
    pub fn revoke_key(&mut self, id: &str, revoked_at: &str) {
        let key = self
            .key_by_id
            .get(id)
            .and_then(|hash| self.keys.get_mut(hash));
        if let Some(key) = key {
            key.revoked_at.get_or_insert_with(|| revoked_at.to_owned());
        }
    }

    /// A team's keys, oldest first, revoked ones included.
    pub fn team_keys(&self, team_id: &str) -> Vec<&Key> {
        let mut keys: Vec<&Key> = self
            .keys
            .values()
            .filter(|key| key.team_id == team_id)
            .collect();
        keys.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
        keys
    }

    pub fn team_count(&self) -> usize {
        self.teams.len()
    }

    pub fn key_count(&self) -> usize {
        self.keys.len()
    }
}

/// Names are letters, digits and `._-`, so folding ASCII case is folding all of it, as the
/// store's `NOCASE` collation does.
fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(id: &str, name: &str) -> Team {
        Team {
            id: id.into(),
            name: name.into(),
            created_at: "t".into(),
        }
    }

    #[test]
    fn finds_teams_by_id_or_name_and_keys_by_hash_or_id() {
        let key = Key {
            id: "k1".into(),
            team_id: "t1".into(),
            name: "laptop".into(),
            project: None,
            key_hash: "h1".into(),
            prefix: "tmk_0000".into(),
            created_at: "t".into(),
            revoked_at: None,
        };
        let mut registry = Registry::new(vec![team("t1", "payments")], vec![key]);

        assert_eq!(
            registry.find_team("t1").map(|t| t.name.as_str()),
            Some("payments")
        );
        for name in ["payments", "Payments", "PAYMENTS"] {
            assert_eq!(
                registry.find_team(name).map(|t| t.id.as_str()),
                Some("t1"),
                "{name}"
            );
        }
        assert_eq!(
            registry.team_named("PayMents").map(|t| t.name.as_str()),
            Some("payments")
        );
        assert!(registry.team_named("t1").is_none(), "ids are not names");
        assert!(registry.find_team("nope").is_none());

        registry.revoke_key("k1", "first");
        registry.revoke_key("k1", "second");
        assert_eq!(
            registry
                .key_by_hash("h1")
                .and_then(|k| k.revoked_at.as_deref()),
            Some("first")
        );
        assert_eq!(registry.team_keys("t1").len(), 1);
        assert_eq!((registry.team_count(), registry.key_count()), (1, 1));
    }
}
