//! Ports, inserts, observed phases and conflicts against a real store.

use super::*;
use crate::store::Store;

fn seed(conn: &Connection, ports: &[u16]) {
    conn.execute_batch(
        "INSERT INTO plans (id, name, cpus, memory, created_at) VALUES (1, 'p', 1, 100000000, 'now');
         INSERT INTO clients (id, slug, name, email, plan_id, status, created_at) VALUES (1, 'c', 'C', 'a@b.c', 1, 'active', 'now');",
    )
    .unwrap();
    for (i, p) in ports.iter().enumerate() {
        conn.execute(
            "INSERT INTO instances (client_id, name, blueprint, image, host_port, desired, created_at) VALUES (1, ?1, 'b', 'i', ?2, 'running', 'now')",
            params![format!("i{i}"), p],
        )
        .unwrap();
    }
}

#[test]
fn free_port_fills_gaps_and_reports_exhaustion() {
    let store = Store::open_in_memory().unwrap();
    store
        .call_blocking(|conn| {
            seed(conn, &[8001, 8002, 8004]);
            let range = PortRange {
                first: 8001,
                last: 8005,
            };
            assert_eq!(free_port(conn, range, |_| true)?, 8003);
            assert_eq!(free_port(conn, range, |p| p != 8003)?, 8005);
            conn.execute(
                "UPDATE instances SET host_port = 8003 WHERE host_port = 8004",
                [],
            )?;
            assert_eq!(free_port(conn, range, |_| true)?, 8004);
            assert!(matches!(
                free_port(
                    conn,
                    PortRange {
                        first: 8001,
                        last: 8002
                    },
                    |_| true
                ),
                Err(StoreError::Conflict(_))
            ));
            Ok(())
        })
        .unwrap();
}

/// A phase this berth does not know (no CHECK guards the column) makes
/// reading the row an error naming the word, not a panic or a default.
#[test]
fn an_unknown_phase_in_the_store_is_an_error() {
    let store = Store::open_in_memory().unwrap();
    store
        .call_blocking(|conn| {
            seed(conn, &[8001]);
            conn.execute("UPDATE instances SET phase = 'hibernating'", [])?;
            let err = list_all(conn).unwrap_err();
            assert!(err.to_string().contains("hibernating"), "{err}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn duplicate_port_is_a_conflict() {
    let store = Store::open_in_memory().unwrap();
    store
        .call_blocking(|conn| {
            seed(conn, &[8001]);
            let name = InstanceName::parse("x").unwrap();
            let empty = BTreeMap::new();
            let new = NewInstance {
                client_id: 1,
                name: &name,
                blueprint: "b",
                image: "i",
                env: &empty,
                secrets: &empty,
                domains: &[],
            };
            let err = insert(conn, &new, 8001).unwrap_err();
            assert_eq!(err.to_string(), "port 8001 is taken");
            Ok(())
        })
        .unwrap();
}
