//! The hash that decides whether Caddy needs a new config: equal for the
//! generated and the live config when nothing drifted.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Hex SHA-256 of a canonical serialisation (object keys sorted at every
/// level, no whitespace). Sorting is done here rather than relied upon from
/// serde_json, because any crate in the graph enabling serde_json's
/// `preserve_order` would silently change `Map` iteration order.
///
/// Caddy 2.6 hands back exactly what was loaded on `GET /config/` (it keeps
/// the raw JSON and re-marshals it, which sorts keys), so the hash of a
/// generated config equals the hash of the live config when nothing drifted;
/// `tests/caddy_adapter.rs` checks this against a real Caddy.
pub fn config_hash(config: &Value) -> String {
    let mut out = String::new();
    write_canonical(config, &mut out);
    hex::encode(Sha256::digest(out.as_bytes()))
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_key_order_but_not_content() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[1,2],"x":"s"}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":"s","y":[1,2]},"b":1}"#).unwrap();
        let c: Value = serde_json::from_str(r#"{"a":{"x":"s","y":[2,1]},"b":1}"#).unwrap();
        assert_eq!(config_hash(&a), config_hash(&b));
        assert_ne!(config_hash(&a), config_hash(&c));
        assert_eq!(config_hash(&a).len(), 64);
    }
}
