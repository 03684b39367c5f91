//! Which pool network each instance adopted (`instances.network`). The
//! record is the only link between an instance and a pool network: the
//! engine cannot relabel a network, so a pool network carries no instance.

use std::collections::HashSet;

use rusqlite::{params, Connection};

use super::StoreError;
use crate::config::PortRange;

/// Records each (instance, network) pair whose instance has no network yet;
/// returns the pairs recorded. Run in one transaction ([`super::Store::write`]):
/// either every adoption of a pass is recorded or none is. An instance that
/// already has one (a second pass raced) keeps it, and a name recorded for
/// another instance fails the UNIQUE index instead of being shared.
pub fn adopt(conn: &Connection, pairs: &[(i64, String)]) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("UPDATE instances SET network = ?2 WHERE id = ?1 AND network IS NULL")?;
    let mut recorded = Vec::new();
    for (id, name) in pairs {
        if stmt.execute(params![id, name])? == 1 {
            recorded.push((*id, name.clone()));
        }
    }
    Ok(recorded)
}

/// Every network name some instance adopted, deleted or not: the pool must
/// never hand these out again.
pub fn adopted(conn: &Connection) -> Result<HashSet<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT network FROM instances WHERE network IS NOT NULL")?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(names)
}

/// The `n` lowest ports of `range` that no instance holds and `usable`
/// accepts: the ports the next creates get, lowest first
/// ([`super::instances::free_port`] picks the same way).
pub fn next_free_ports(
    conn: &Connection,
    range: PortRange,
    n: usize,
    usable: impl Fn(u16) -> bool,
) -> Result<Vec<u16>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT host_port FROM instances WHERE host_port BETWEEN ?1 AND ?2")?;
    let held: HashSet<u16> = stmt
        .query_map([range.first, range.last], |r| r.get::<_, u16>(0))?
        .collect::<Result<_, _>>()?;
    Ok((range.first..=range.last)
        .filter(|p| !held.contains(p) && usable(*p))
        .take(n)
        .collect())
}
