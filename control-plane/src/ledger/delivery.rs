//! A usage batch as the filter delivers it, read record by record.
//!
//! The body must be a batch (`{"records": [...]}`); otherwise nothing can be settled and it
//! is refused whole. Inside it, each record is read on its own, so one that is not a usage
//! record at all is rejected alone and the others are stored.

use serde::Deserialize;
use serde_json::value::RawValue;
use trimio_wire::{UsageBatch, UsageRecord};

use crate::ledger::record::RecordError;

/// A record left out of the ledger: the id it gave (as sent, possibly empty) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub request_id: String,
    pub error: RecordError,
}

/// The entries of one batch, in order: a record to check and store, or one already rejected.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    pub entries: Vec<Result<UsageRecord, Rejected>>,
}

#[derive(Deserialize)]
struct RawBatch<'a> {
    #[serde(borrow)]
    records: Vec<&'a RawValue>,
}

/// What can still be told of an entry that is not a record: its id, when it has one.
#[derive(Deserialize)]
struct IdOnly {
    request_id: String,
}

impl Delivery {
    /// Reads a batch body. Fails only when the body is not a batch at all.
    pub fn read(body: &[u8]) -> Result<Delivery, serde_json::Error> {
        let batch: RawBatch<'_> = serde_json::from_slice(body)?;
        let entries = batch.records.into_iter().map(entry).collect();
        Ok(Delivery { entries })
    }
}

fn entry(raw: &RawValue) -> Result<UsageRecord, Rejected> {
    serde_json::from_str(raw.get()).map_err(|error| Rejected {
        request_id: serde_json::from_str::<IdOnly>(raw.get())
            .map(|only| only.request_id)
            .unwrap_or_default(),
        error: RecordError::Unreadable(error.to_string()),
    })
}

impl From<UsageBatch> for Delivery {
    fn from(batch: UsageBatch) -> Delivery {
        Delivery {
            entries: batch.records.into_iter().map(Ok).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn one_unreadable_record_is_rejected_alone() {
        let good = serde_json::to_value(crate::ledger::record_for_tests("r1", "h")).unwrap();
        let mut bad = good.clone();
        bad["request_id"] = json!("r2");
        bad["usage"]["input"] = json!(-1);
        let body = json!({"records": [good, bad, 3, {"request_id": 7}]}).to_string();

        let entries = Delivery::read(body.as_bytes()).unwrap().entries;
        assert_eq!(entries.len(), 4);
        assert!(entries[0].is_ok());
        let ids: Vec<&str> = entries[1..]
            .iter()
            .map(|entry| entry.as_ref().unwrap_err().request_id.as_str())
            .collect();
        assert_eq!(ids, ["r2", "", ""]);
        let reason = entries[1].as_ref().unwrap_err().error.to_string();
        assert!(
            reason.starts_with("not a usage record: invalid value"),
            "{reason}"
        );
    }

    #[test]
    fn only_a_body_that_is_not_a_batch_fails() {
        for body in ["", "[]", "{}", r#"{"records": 3}"#, r#"{"records": [1"#] {
            assert!(Delivery::read(body.as_bytes()).is_err(), "{body}");
        }
        let empty = Delivery::read(br#"{"records": []}"#).unwrap();
        assert!(empty.entries.is_empty());
    }
}
