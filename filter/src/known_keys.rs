//! Keys the control plane admitted recently, remembered in Envoy's shared data (all workers of
//! the VM see them), so that failing open during a control-plane outage admits only keys that
//! were valid shortly before it, never any string.

use proxy_wasm::hostcalls;

const PREFIX: &str = "trimio.known_key.";

fn entry(key_hash: &str) -> String {
    format!("{PREFIX}{key_hash}")
}

/// Notes that `key_hash` was admitted at `now_ms`. Written at most once a minute per key.
pub fn remember(key_hash: &str, now_ms: u64) {
    if last_admitted(key_hash).is_some_and(|at| now_ms.saturating_sub(at) < 60_000) {
        return;
    }
    let _ = hostcalls::set_shared_data(&entry(key_hash), Some(&now_ms.to_le_bytes()), None);
}

/// Forgets a key the control plane refused (unknown or revoked).
pub fn forget(key_hash: &str) {
    if last_admitted(key_hash).is_some() {
        let _ = hostcalls::set_shared_data(&entry(key_hash), None, None);
    }
}

/// When the control plane last admitted this key, if it did.
pub fn last_admitted(key_hash: &str) -> Option<u64> {
    let (value, _) = hostcalls::get_shared_data(&entry(key_hash)).ok()?;
    let bytes: [u8; 8] = value?.get(..8)?.try_into().ok()?;
    let at = u64::from_le_bytes(bytes);
    (at > 0).then_some(at)
}
