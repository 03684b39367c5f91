use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{now, StoreError};
use crate::config::PortRange;
use crate::domain::{ClientStatus, DesiredState, GeneratedSecrets, Hostname, InstanceName, Phase};

/// An instance with what the reconciler needs from its client and plan.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRow {
    pub id: i64,
    pub client_id: i64,
    pub client_slug: String,
    pub client_name: String,
    pub client_status: ClientStatus,
    pub name: String,
    pub blueprint: String,
    pub image: String,
    pub host_port: u16,
    pub desired: DesiredState,
    pub env: BTreeMap<String, String>,
    pub secrets: GeneratedSecrets,
    pub restart_gen: i64,
    pub restart_done_gen: i64,
    pub phase: Phase,
    pub message: String,
    pub container_id: Option<String>,
    pub observed_at: Option<String>,
    pub created_at: String,
    pub domains: Vec<String>,
    pub plan: String,
    pub cpus: f64,
    pub memory: u64,
    pub memory_reservation: Option<u64>,
    pub storage: Option<u64>,
    /// The pool network it adopted; `None`: the network is named like the container.
    pub network: Option<String>,
    /// The tag pinned on this instance; beats the plan's.
    pub image_tag: Option<String>,
    /// The tag pinned on the client's plan; beats the blueprint's.
    pub plan_image_tag: Option<String>,
    /// The engine's ID of the image its container was created from, as
    /// last observed (`None` until a container was seen).
    pub image_id: Option<String>,
    /// The image ID its container must run (desired state), valid while
    /// [`InstanceRow::resolved_image`] is still `desired_image_ref`: a pull
    /// of a newer tag never moves it, only a rollout, rollback or pin does.
    pub desired_image_id: Option<String>,
    pub desired_image_ref: Option<String>,
    /// The registry digest of `image_id`, when berth learnt it (a pull or
    /// an inspect; an image built here has none).
    pub image_digest: Option<String>,
}

impl InstanceRow {
    /// The image its container runs: `image` with the pinned tag, if any.
    pub fn resolved_image(&self) -> String {
        match self.image_tag.as_ref().or(self.plan_image_tag.as_ref()) {
            Some(tag) => with_tag(&self.image, tag),
            None => self.image.clone(),
        }
    }

    /// The image ID its container must run: the desired one while it was
    /// resolved from the reference the instance resolves to now.
    pub fn pinned_image_id(&self) -> Option<&str> {
        let current = self.desired_image_ref.as_deref() == Some(self.resolved_image().as_str());
        self.desired_image_id.as_deref().filter(|_| current)
    }
}

/// `image` with its tag (or digest) replaced by `tag`.
pub fn with_tag(image: &str, tag: &str) -> String {
    let repo = match image.split_once('@') {
        Some((repo, _)) => repo,
        None => {
            let name_start = image.rfind('/').map_or(0, |i| i + 1);
            match image[name_start..].rfind(':') {
                Some(i) => &image[..name_start + i],
                None => image,
            }
        }
    };
    format!("{repo}:{tag}")
}

pub struct NewInstance<'a> {
    pub client_id: i64,
    pub name: &'a InstanceName,
    pub blueprint: &'a str,
    pub image: &'a str,
    pub env: &'a BTreeMap<String, String>,
    pub secrets: &'a BTreeMap<String, String>,
    pub domains: &'a [Hostname],
}

/// What the reconciler saw of one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub instance_id: i64,
    pub phase: Phase,
    pub message: String,
    pub container_id: Option<String>,
    /// The image ID of the container seen, if one was.
    pub image_id: Option<String>,
    /// Adoption: (reference, image ID) to record as the desired image when
    /// the instance has none valid and runs a current container; with what
    /// the pass read (desired id, ref), so a rollout's write meanwhile wins.
    pub adopt: Option<Adopt>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Adopt {
    pub image_ref: String,
    pub image_id: String,
    pub seen_id: Option<String>,
    pub seen_ref: Option<String>,
}

const SELECT: &str = "SELECT i.id, i.client_id, c.slug, c.name, c.status, i.name, i.blueprint, i.image, i.host_port, i.desired,
    i.env, i.secrets, i.restart_gen, i.restart_done_gen, i.phase, i.message, i.container_id, i.observed_at, i.created_at,
    (SELECT group_concat(hostname, ' ') FROM (SELECT hostname FROM domains d WHERE d.instance_id = i.id ORDER BY hostname)),
    p.name, p.cpus, p.memory, p.memory_reservation, p.storage, i.network, i.image_tag, p.image_tag, i.image_id,
    i.desired_image_id, i.desired_image_ref,
    (SELECT g.digest FROM image_digests g WHERE g.image_id = i.image_id)
    FROM instances i JOIN clients c ON c.id = i.client_id JOIN plans p ON p.id = c.plan_id";

fn from_row(r: &Row) -> rusqlite::Result<InstanceRow> {
    let json_map =
        |s: String| serde_json::from_str::<BTreeMap<String, String>>(&s).unwrap_or_default();
    Ok(InstanceRow {
        id: r.get(0)?,
        client_id: r.get(1)?,
        client_slug: r.get(2)?,
        client_name: r.get(3)?,
        client_status: r.get(4)?,
        name: r.get(5)?,
        blueprint: r.get(6)?,
        image: r.get(7)?,
        host_port: r.get(8)?,
        desired: r.get(9)?,
        env: json_map(r.get(10)?),
        secrets: json_map(r.get(11)?).into(),
        restart_gen: r.get(12)?,
        restart_done_gen: r.get(13)?,
        phase: r.get(14)?,
        message: r.get(15)?,
        container_id: r.get(16)?,
        observed_at: r.get(17)?,
        created_at: r.get(18)?,
        domains: r
            .get::<_, Option<String>>(19)?
            .map(|s| s.split(' ').map(str::to_owned).collect())
            .unwrap_or_default(),
        plan: r.get(20)?,
        cpus: r.get(21)?,
        memory: r.get::<_, i64>(22)? as u64,
        memory_reservation: r.get::<_, Option<i64>>(23)?.map(|v| v as u64),
        storage: r.get::<_, Option<i64>>(24)?.map(|v| v as u64),
        network: r.get(25)?,
        image_tag: r.get(26)?,
        plan_image_tag: r.get(27)?,
        image_id: r.get(28)?,
        desired_image_id: r.get(29)?,
        desired_image_ref: r.get(30)?,
        image_digest: r.get(31)?,
    })
}

/// The lowest port of the range that no instance holds and `usable` accepts
/// (e.g. nothing else on the host listens there). Runs inside the caller's
/// (immediate) transaction; the UNIQUE column is the real guarantee.
pub fn free_port(
    conn: &Connection,
    range: PortRange,
    usable: impl Fn(u16) -> bool,
) -> Result<u16, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT host_port FROM instances WHERE host_port BETWEEN ?1 AND ?2")?;
    let used: std::collections::HashSet<u16> = stmt
        .query_map([range.first, range.last], |r| r.get::<_, u16>(0))?
        .collect::<Result<_, _>>()?;
    (range.first..=range.last)
        .find(|p| !used.contains(p) && usable(*p))
        .ok_or_else(|| StoreError::Conflict(format!("no free host port left in {range}")))
}

pub fn insert(conn: &Connection, new: &NewInstance, host_port: u16) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO instances (client_id, name, blueprint, image, host_port, desired, env, secrets, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            new.client_id,
            new.name.as_str(),
            new.blueprint,
            new.image,
            host_port,
            DesiredState::Running,
            serde_json::to_string(new.env).unwrap_or_default(),
            serde_json::to_string(new.secrets).unwrap_or_default(),
            now()
        ],
    )
    .map_err(|e| {
        let msg = e.to_string();
        StoreError::unique(e, || {
            if msg.contains("host_port") {
                format!("port {host_port} is taken")
            } else {
                format!("instance {} already exists for this client", new.name)
            }
        })
    })?;
    let id = conn.last_insert_rowid();
    for domain in new.domains {
        conn.execute(
            "INSERT INTO domains (hostname, instance_id) VALUES (?1, ?2)",
            params![domain.as_str(), id],
        )
        .map_err(|e| StoreError::unique(e, || format!("domain {domain} is already in use")))?;
    }
    Ok(id)
}

pub fn get(conn: &Connection, id: i64) -> Result<InstanceRow, StoreError> {
    conn.query_row(&format!("{SELECT} WHERE i.id = ?1"), [id], from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("instance {id} not found")))
}

/// The instance a backup manifest names, by client slug and instance name;
/// `None` when there is none (nor any way to tell), so the archive is
/// imported unattached and stays restorable as a clone.
pub fn id_by_name(conn: &Connection, client_slug: &str, name: &str) -> Option<i64> {
    conn.query_row(
        "SELECT i.id FROM instances i JOIN clients c ON c.id = i.client_id WHERE c.slug = ?1 AND i.name = ?2",
        [client_slug, name],
        |r| r.get(0),
    )
    .ok()
}

pub fn list_all(conn: &Connection) -> Result<Vec<InstanceRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY i.id"))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn list_for_client(conn: &Connection, client_id: i64) -> Result<Vec<InstanceRow>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("{SELECT} WHERE i.client_id = ?1 ORDER BY i.id"))?;
    let rows = stmt
        .query_map([client_id], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn count_for_client(conn: &Connection, client_id: i64) -> Result<u32, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM instances WHERE client_id = ?1 AND desired != ?2",
        params![client_id, DesiredState::Absent],
        |r| r.get(0),
    )?)
}

pub fn set_env(
    conn: &Connection,
    id: i64,
    env: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE instances SET env = ?1 WHERE id = ?2",
        params![serde_json::to_string(env).unwrap_or_default(), id],
    )?;
    Ok(())
}

/// Replaces the instance's domains; one taken by another instance is a conflict.
pub fn set_domains(conn: &Connection, id: i64, domains: &[Hostname]) -> Result<(), StoreError> {
    conn.execute("DELETE FROM domains WHERE instance_id = ?1", [id])?;
    for domain in domains {
        conn.execute(
            "INSERT INTO domains (hostname, instance_id) VALUES (?1, ?2)",
            params![domain.as_str(), id],
        )
        .map_err(|e| StoreError::unique(e, || format!("domain {domain} is already in use")))?;
    }
    Ok(())
}

pub fn set_desired(conn: &Connection, id: i64, desired: DesiredState) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE instances SET desired = ?1 WHERE id = ?2 AND desired NOT IN (?1, ?3)",
        params![desired, id, DesiredState::Absent],
    )? > 0)
}

/// Marks an instance for removal: the reconciler removes its container,
/// network and route, then the caller removes data and the row.
pub fn mark_absent(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE instances SET desired = ?2 WHERE id = ?1",
        params![id, DesiredState::Absent],
    )?;
    Ok(())
}

pub fn request_restart(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE instances SET restart_gen = restart_gen + 1 WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

pub fn restart_done(conn: &Connection, id: i64, generation: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE instances SET restart_done_gen = MAX(restart_done_gen, ?1) WHERE id = ?2",
        params![generation, id],
    )?;
    Ok(())
}

/// Writes observations in one transaction, touching only rows that changed.
pub fn record(conn: &mut Connection, observations: &[Observation]) -> Result<usize, StoreError> {
    let tx = conn.transaction()?;
    let mut changed = 0;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE instances SET phase = ?1, message = ?2, container_id = ?3, observed_at = ?4,
                 image_id = COALESCE(?6, image_id)
             WHERE id = ?5 AND (phase != ?1 OR message != ?2 OR container_id IS NOT ?3
                 OR (?6 IS NOT NULL AND image_id IS NOT ?6))",
        )?;
        let at = now();
        for o in observations {
            changed += stmt.execute(params![
                o.phase,
                o.message,
                o.container_id,
                at,
                o.instance_id,
                o.image_id
            ])?;
        }
        let mut adopt = tx.prepare_cached(
            "UPDATE instances SET desired_image_ref = ?2, desired_image_id = ?3
             WHERE id = ?1 AND desired_image_id IS ?4 AND desired_image_ref IS ?5",
        )?;
        for o in observations {
            if let Some(a) = &o.adopt {
                changed += adopt.execute(params![
                    o.instance_id,
                    a.image_ref,
                    a.image_id,
                    a.seen_id,
                    a.seen_ref
                ])?;
            }
        }
    }
    tx.commit()?;
    Ok(changed)
}

/// Pins (or with `None` unpins) the instance's image tag; the desired
/// image ID goes with the old pin (the next container adopts one).
pub fn set_image_tag(conn: &Connection, id: i64, tag: Option<&str>) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE instances SET image_tag = ?1, desired_image_id = NULL, desired_image_ref = NULL WHERE id = ?2",
        params![tag, id],
    )?;
    Ok(())
}

/// A rollout's or rollback's move: the instance's own tag pin, the
/// reference it resolves to and the image ID its container must run.
pub fn set_desired_image(
    conn: &Connection,
    id: i64,
    pin: Option<&str>,
    image_ref: &str,
    image_id: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE instances SET image_tag = ?2, desired_image_ref = ?3, desired_image_id = ?4 WHERE id = ?1",
        params![id, pin, image_ref, image_id],
    )?;
    Ok(())
}

/// Forgets a desired image ID the engine no longer has, if it is still
/// the one desired; the tag is resolved again and the result adopted.
pub fn forget_desired_image(conn: &Connection, id: i64, image_id: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE instances SET desired_image_id = NULL, desired_image_ref = NULL WHERE id = ?1 AND desired_image_id = ?2",
        params![id, image_id],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM instances WHERE id = ?1", [id])?;
    Ok(())
}

#[cfg(test)]
#[path = "instances_tests.rs"]
mod tests;
