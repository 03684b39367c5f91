//! What each admin form (and the filter bars) sends, and how it becomes
//! an operation's input. Handlers read these; views fill them back in.

use serde::Deserialize;

use crate::domain::size::SizeInput;
use crate::domain::ByteSize;
use crate::domain::{Approval, DomainError, RestoreMode};
use crate::ops::{OpsError, PlanInput};
use crate::store::{AuditFilter, BackupPolicy, PlanRow};
use crate::web::urls::{history_url, seg};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub dir: String,
    #[serde(default)]
    pub page: usize,
}

pub fn list_url(q: &ListQuery, sort: &str, dir: &str, page: usize) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    if !q.q.is_empty() {
        s.append_pair("q", &q.q);
    }
    s.append_pair("sort", sort).append_pair("dir", dir);
    if page > 0 {
        s.append_pair("page", &page.to_string());
    }
    format!("/clients?{}", s.finish())
}

#[derive(Debug, Default, Deserialize)]
pub struct ClientForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub plan: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub blueprint: String,
    #[serde(default)]
    pub domain: String,
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    pub confirm: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct InstanceForm {
    /// Named like the domain error's field, so the error lands beside it.
    #[serde(default, rename = "instance")]
    pub name: String,
    #[serde(default)]
    pub blueprint: String,
    #[serde(default)]
    pub domain: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub cpus: String,
    #[serde(default)]
    pub memory: String,
    #[serde(default)]
    pub memory_reservation: String,
    #[serde(default)]
    pub storage: String,
    #[serde(default)]
    pub max_instances: String,
    #[serde(default)]
    pub approval: String,
    /// A checkbox: present ("on") when ticked, absent otherwise.
    #[serde(default)]
    pub portal_restore: String,
    /// Comma-separated blueprint names; empty = all.
    #[serde(default)]
    pub blueprints: String,
    /// Empty: the blueprint's tag.
    #[serde(default)]
    pub image_tag: String,
}

impl PlanForm {
    pub fn from_row(p: &PlanRow) -> Self {
        let size = |b: u64| ByteSize(b).to_string();
        Self {
            name: p.name.clone(),
            cpus: p.cpus.to_string(),
            memory: size(p.memory),
            memory_reservation: p.memory_reservation.map(size).unwrap_or_default(),
            storage: p.storage.map(size).unwrap_or_default(),
            max_instances: p.max_instances.map(|m| m.to_string()).unwrap_or_default(),
            approval: p.approval.to_string(),
            portal_restore: if p.portal_restore {
                "on".into()
            } else {
                String::new()
            },
            blueprints: p.blueprints.as_deref().unwrap_or_default().join(", "),
            image_tag: p.image_tag.clone().unwrap_or_default(),
        }
    }

    pub fn parse(&self) -> Result<PlanInput, OpsError> {
        let cpus = self
            .cpus
            .trim()
            .parse::<f64>()
            .map_err(|_| DomainError::new("cpus", "must be a number like 0.5 or 2"))?;
        let opt = |s: &str| {
            Some(s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| SizeInput::Text(s.to_owned()))
        };
        let max_instances = match self.max_instances.trim() {
            "" => None,
            m => Some(
                m.parse::<u32>()
                    .map_err(|_| DomainError::new("max_instances", "must be a whole number"))?,
            ),
        };
        let approval = match self.approval.trim() {
            "" => Approval::default(),
            a => Approval::parse(a)?,
        };
        Ok(PlanInput {
            name: self.name.trim().to_owned(),
            cpus,
            memory: SizeInput::Text(self.memory.trim().to_owned()),
            memory_reservation: opt(&self.memory_reservation),
            storage: opt(&self.storage),
            max_instances,
            approval,
            portal_restore: !self.portal_restore.is_empty(),
            blueprints: Some(self.blueprints.split(',').map(str::to_owned).collect()),
            image_tag: Some(self.image_tag.trim().to_owned()),
        })
    }
}

/// Every field optional: empty inherits the global setting.
#[derive(Debug, Default, Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    pub schedule: String,
    #[serde(default)]
    pub keep_last: String,
    #[serde(default)]
    pub keep_daily: String,
    #[serde(default)]
    pub keep_weekly: String,
    #[serde(default)]
    pub keep_monthly: String,
}

impl PolicyForm {
    pub fn from_policy(p: &BackupPolicy) -> Self {
        let n = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
        Self {
            schedule: p.schedule.clone().unwrap_or_default(),
            keep_last: n(p.keep_last),
            keep_daily: n(p.keep_daily),
            keep_weekly: n(p.keep_weekly),
            keep_monthly: n(p.keep_monthly),
        }
    }

    pub fn parse(&self) -> Result<BackupPolicy, OpsError> {
        let n = |field: &'static str, v: &str| -> Result<Option<u32>, OpsError> {
            match v.trim() {
                "" => Ok(None),
                v => Ok(Some(v.parse::<u32>().map_err(|_| {
                    DomainError::new(field, "must be a whole number, or empty to inherit")
                })?)),
            }
        };
        Ok(BackupPolicy {
            schedule: Some(self.schedule.trim().to_owned()).filter(|s| !s.is_empty()),
            keep_last: n("keep_last", &self.keep_last)?,
            keep_daily: n("keep_daily", &self.keep_daily)?,
            keep_weekly: n("keep_weekly", &self.keep_weekly)?,
            keep_monthly: n("keep_monthly", &self.keep_monthly)?,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RestoreForm {
    /// "in_place" or "clone".
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub confirm: String,
    /// Named like the domain error's field, so the error lands beside it.
    #[serde(default)]
    pub instance: String,
}

impl RestoreForm {
    /// The chosen way of restoring; anything unknown means in place.
    pub fn mode(&self) -> RestoreMode {
        RestoreMode::parse(&self.mode).unwrap_or(RestoreMode::InPlace)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct BackForm {
    #[serde(default)]
    pub back: String,
}

impl BackForm {
    /// Only these two places: the form names one, never a URL.
    pub fn url(&self, client_slug: &str, instance_id: Option<i64>) -> String {
        match (self.back.as_str(), instance_id) {
            ("history", Some(id)) => history_url(id),
            _ => format!("/clients/{}", seg(client_slug)),
        }
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub password: String,
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub code: String,
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    pub name: String,
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub password: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub client: String,
    #[serde(default)]
    pub action: String,
    /// YYYY-MM-DD, inclusive, UTC.
    #[serde(default)]
    pub from: String,
    /// YYYY-MM-DD, inclusive, UTC.
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub format: String,
}

fn day(field: &'static str, value: &str, offset_days: i64) -> Result<Option<String>, OpsError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(value.trim(), &format)
        .map_err(|_| DomainError::new(field, "must be a date like 2025-01-31"))?;
    // "to" is inclusive, so its bound is the next midnight: none exists after
    // 9999-12-31, the last date `time` knows.
    let date = date
        .checked_add(time::Duration::days(offset_days))
        .ok_or_else(|| DomainError::new(field, "is past the last date berth can handle"))?;
    Ok(Some(format!(
        "{}T00:00:00Z",
        date.format(&format).unwrap_or_default()
    )))
}

impl AuditQuery {
    pub fn filter(&self, limit: u32) -> Result<AuditFilter, OpsError> {
        let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(AuditFilter {
            actor: opt(&self.actor),
            client_slug: opt(&self.client),
            action: opt(&self.action),
            since: day("from", &self.from, 0)?,
            until: day("to", &self.to, 1)?,
            limit,
        })
    }

    pub fn export_url(&self, format: &str) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("actor", &self.actor),
            ("client", &self.client),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        s.append_pair("format", format);
        format!("/audit/export?{}", s.finish())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_become_utc_bounds() {
        assert_eq!(
            super::day("to", "2025-01-31", 1).unwrap().unwrap(),
            "2025-02-01T00:00:00Z"
        );
        assert!(super::day("from", "yesterday", 0).is_err());
        assert!(super::day("from", "", 0).unwrap().is_none());
    }
}
