use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{now, StoreError};
use crate::domain::{blueprint_allowed, Approval, ByteSize, PlanSpec};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlanRow {
    pub id: i64,
    pub name: String,
    pub cpus: f64,
    pub memory: u64,
    pub memory_reservation: Option<u64>,
    pub storage: Option<u64>,
    pub max_instances: Option<u32>,
    pub created_at: String,
    pub approval: Approval,
    pub portal_restore: bool,
    /// The blueprints its clients may request; `None` = all.
    pub blueprints: Option<Vec<String>>,
    /// The image tag pinned for its clients' instances, if any.
    pub image_tag: Option<String>,
    /// Instances of clients on this plan, for "lowering below usage" checks.
    pub instances: u32,
}

macro_rules! plan_select {
    ($instances:literal) => {
        concat!(
            "SELECT p.id, p.name, p.cpus, p.memory, p.memory_reservation, p.storage, p.max_instances, p.created_at,
            p.approval, p.portal_restore, p.blueprints, p.image_tag, ",
            $instances,
            " FROM plans p"
        )
    };
}

const SELECT: &str = plan_select!(
    "(SELECT COUNT(*) FROM instances i JOIN clients c ON c.id = i.client_id WHERE c.plan_id = p.id AND i.desired != 'absent')"
);

/// The same columns without the usage count, which scans every instance of
/// the plan: for reads on every request (the portal's pages).
const SELECT_TERMS: &str = plan_select!("0");

fn from_row(r: &Row) -> rusqlite::Result<PlanRow> {
    Ok(PlanRow {
        id: r.get(0)?,
        name: r.get(1)?,
        cpus: r.get(2)?,
        memory: r.get::<_, i64>(3)? as u64,
        memory_reservation: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
        storage: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
        max_instances: r.get(6)?,
        created_at: r.get(7)?,
        approval: r.get(8)?,
        portal_restore: r.get(9)?,
        blueprints: r
            .get::<_, Option<String>>(10)?
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(10, rusqlite::types::Type::Text, e.into())
            })?,
        image_tag: r.get(11)?,
        instances: r.get(12)?,
    })
}

impl PlanRow {
    /// The plan as a checked domain value (rows were checked on the way in).
    pub fn limits(&self) -> crate::domain::Limits {
        crate::domain::Limits {
            cpus: self.cpus,
            memory: ByteSize(self.memory),
            memory_reservation: self.memory_reservation.map(ByteSize),
        }
    }

    /// Whether its clients may request an instance of blueprint `name`.
    pub fn allows_blueprint(&self, name: &str) -> bool {
        blueprint_allowed(self.blueprints.as_deref(), name)
    }
}

/// The ten plan columns in table order, shared by insert and update.
fn columns(spec: &PlanSpec) -> [rusqlite::types::Value; 10] {
    use rusqlite::types::Value;
    let opt = |v: Option<u64>| v.map_or(Value::Null, |b| Value::Integer(b as i64));
    [
        Value::Text(spec.name.as_str().to_owned()),
        Value::Real(spec.limits.cpus),
        Value::Integer(spec.limits.memory.0 as i64),
        opt(spec.limits.memory_reservation.map(|b| b.0)),
        opt(spec.storage.map(|b| b.0)),
        spec.max_instances
            .map_or(Value::Null, |m| Value::Integer(m.into())),
        Value::Text(spec.approval.as_str().to_owned()),
        Value::Integer(spec.portal_restore.into()),
        spec.blueprints.as_ref().map_or(Value::Null, |b| {
            Value::Text(serde_json::to_string(b).expect("a list of strings serialises"))
        }),
        spec.image_tag.clone().map_or(Value::Null, Value::Text),
    ]
}

pub fn insert(conn: &Connection, spec: &PlanSpec) -> Result<PlanRow, StoreError> {
    let [a, b, c, d, e, f, g, h, i, j] = columns(spec);
    conn.execute(
        "INSERT INTO plans (name, cpus, memory, memory_reservation, storage, max_instances, approval, portal_restore, blueprints, image_tag, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![a, b, c, d, e, f, g, h, i, j, now()],
    )
    .map_err(|e| StoreError::unique(e, || format!("plan {} already exists", spec.name)))?;
    get(conn, spec.name.as_str())
}

pub fn update(conn: &Connection, name: &str, spec: &PlanSpec) -> Result<PlanRow, StoreError> {
    let [a, b, c, d, e, f, g, h, i, j] = columns(spec);
    let changed = conn
        .execute(
            "UPDATE plans SET name = ?1, cpus = ?2, memory = ?3, memory_reservation = ?4, storage = ?5, max_instances = ?6,
                 approval = ?7, portal_restore = ?8, blueprints = ?9, image_tag = ?10 WHERE name = ?11",
            params![a, b, c, d, e, f, g, h, i, j, name],
        )
        .map_err(|e| StoreError::unique(e, || format!("plan {} already exists", spec.name)))?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("plan {name} not found")));
    }
    get(conn, spec.name.as_str())
}

pub fn delete(conn: &Connection, name: &str) -> Result<(), StoreError> {
    let plan = get(conn, name)?;
    let clients: i64 = conn.query_row(
        "SELECT COUNT(*) FROM clients WHERE plan_id = ?1",
        [plan.id],
        |r| r.get(0),
    )?;
    if clients > 0 {
        return Err(StoreError::Conflict(format!(
            "plan {name} is used by {clients} client(s)"
        )));
    }
    conn.execute("DELETE FROM plans WHERE id = ?1", [plan.id])?;
    Ok(())
}

pub fn get(conn: &Connection, name: &str) -> Result<PlanRow, StoreError> {
    find(conn, name)?.ok_or_else(|| StoreError::NotFound(format!("plan {name} not found")))
}

pub fn find(conn: &Connection, name: &str) -> Result<Option<PlanRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} WHERE p.name = ?1"))?;
    Ok(stmt.query_row([name], from_row).optional()?)
}

/// The plan's terms (limits, approval, restore, blueprints) with
/// `instances` left at 0: cheap enough for every page view.
pub fn terms(conn: &Connection, name: &str) -> Result<PlanRow, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT_TERMS} WHERE p.name = ?1"))?;
    stmt.query_row([name], from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("plan {name} not found")))
}

pub fn list(conn: &Connection) -> Result<Vec<PlanRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY p.name"))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}
