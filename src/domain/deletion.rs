//! A confirmed delete is a job: a row with a status that a worker carries to
//! the end, so it survives a restart and no request waits for containers.
//!
//! Its report is the provider's proof of what went. A whole-client delete
//! is a GDPR erasure, so its report is kept after the client is gone and
//! names nothing personal: the client appears only as its internal id and
//! the pseudonym [`erased_label`]; a salted fingerprint
//! ([`SubjectProof`]) lets the provider show *which* client it was to
//! someone who already knows the client's slug and email.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The format of a report; bumped when a field changes meaning.
pub const REPORT_SCHEMA: &str = "berth.deletion-report/1";

/// What stands for an erased client wherever a record of it is kept (audit
/// entries, earlier deletion reports). Not a valid slug, so it can never
/// name a live client.
pub fn erased_label(deletion_id: i64) -> String {
    format!("erased:{deletion_id}")
}

/// What a finished delete removed; shown once, kept in the store and as a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletionReport {
    #[serde(default)]
    pub schema: String,
    #[serde(default)]
    pub deletion_id: i64,
    #[serde(default)]
    pub client_id: i64,
    /// The slug while the client exists (an instance was removed); after
    /// an erasure, [`erased_label`].
    pub client: String,
    /// Empty after an erasure.
    pub client_name: String,
    /// True when the client itself was deleted, false when one instance was.
    pub client_deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_proof: Option<SubjectProof>,
    pub instances: Vec<RemovedInstance>,
    /// Every kind of record the delete touched, with counts and sizes.
    #[serde(default)]
    pub categories: Vec<Category>,
    /// The client's monthly usage, kept without any name for the provider's
    /// books (invoices must be kept for years; see docs/gdpr.md).
    #[serde(default)]
    pub billing_kept: Vec<KeptBillingMonth>,
    /// The client's LLM keys deleted at the provider, by label (the name
    /// berth gave them there; it carries no personal data).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub llm_keys_deleted: Vec<String>,
    /// Keys that could not be deleted because no provider is configured any
    /// more: delete them by hand (the label is their name there).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub llm_keys_left: Vec<String>,
    pub deleted_at: String,
    pub deleted_by: String,
    pub report_file: String,
}

impl DeletionReport {
    /// The same report with every name of the client replaced by the
    /// erasure's pseudonym: what an earlier instance removal's report
    /// becomes once its whole client is erased.
    pub fn pseudonymised(mut self, deletion_id: i64) -> Self {
        // Key labels are `berth/<owner>/<slug>/<n>`: the slug goes too. Keys
        // left at the provider keep their real name: the provider must find
        // them there to delete them by hand.
        let (slug, erased) = (
            format!("/{}/", self.client),
            format!("/{}/", erased_label(deletion_id)),
        );
        for label in &mut self.llm_keys_deleted {
            *label = label.replace(&slug, &erased);
        }
        self.client = erased_label(deletion_id);
        self.client_name.clear();
        for i in &mut self.instances {
            i.name = format!("instance-{}", i.id);
        }
        self
    }

    pub fn category(&self, name: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemovedInstance {
    pub id: i64,
    /// `instance-<id>` after an erasure.
    pub name: String,
    pub data_bytes: u64,
    pub data_files: u64,
}

/// What happened to one kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Gone: rows deleted, files removed.
    Erased,
    /// Kept with every name of the client replaced by its pseudonym.
    Pseudonymised,
    /// Removed by work the delete queued: offsite snapshots are forgotten
    /// by a queued forget and their data removed by the prune after it.
    Queued,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    pub name: String,
    pub disposition: Disposition,
    pub count: u64,
    /// Bytes on disk, for categories that are files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

impl Category {
    pub fn erased(name: &str, count: u64) -> Self {
        Self {
            name: name.into(),
            disposition: Disposition::Erased,
            count,
            bytes: None,
        }
    }

    pub fn erased_files(name: &str, count: u64, bytes: u64) -> Self {
        Self {
            bytes: Some(bytes),
            ..Self::erased(name, count)
        }
    }

    pub fn queued(name: &str, count: u64) -> Self {
        Self {
            disposition: Disposition::Queued,
            ..Self::erased(name, count)
        }
    }

    pub fn pseudonymised(name: &str, count: u64) -> Self {
        Self {
            disposition: Disposition::Pseudonymised,
            ..Self::erased(name, count)
        }
    }
}

/// One month of an erased client's usage, the quantities a bill is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptBillingMonth {
    pub month: String,
    pub instances: u32,
    pub instance_hours: f64,
    pub cpu_core_hours: f64,
    pub memory_gib_hours: f64,
    pub storage_gib_months: f64,
    pub network_in_gib: f64,
    pub network_out_gib: f64,
    /// LLM spend in USD (absent from reports written before keys existed).
    #[serde(default)]
    pub llm_usd: f64,
}

/// `sha256` is hex of SHA-256 over `"{salt}:{slug}:{email}"` (the email in
/// lower case). Whoever knows the client's slug and email can recompute it
/// (`printf '%s:%s:%s' SALT SLUG EMAIL | sha256sum`); the report alone
/// names nobody, and the random salt keeps equal clients of two reports
/// from matching each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectProof {
    pub salt: String,
    pub sha256: String,
}

impl SubjectProof {
    pub fn new(salt: String, slug: &str, email: &str) -> Self {
        let sha256 = Self::digest(&salt, slug, email);
        Self { salt, sha256 }
    }

    /// Whether this proof was made for this client.
    pub fn matches(&self, slug: &str, email: &str) -> bool {
        Self::digest(&self.salt, slug, email) == self.sha256
    }

    fn digest(salt: &str, slug: &str, email: &str) -> String {
        let text = format!("{salt}:{slug}:{}", email.to_lowercase());
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_proof_matches_only_its_client() {
        let p = SubjectProof::new("00ff".into(), "acme", "Boss@Acme.example");
        assert!(p.matches("acme", "boss@acme.example"));
        assert!(!p.matches("acme", "other@acme.example"));
        assert!(!p.matches("acme2", "boss@acme.example"));
        assert!(!p.sha256.contains("acme"));
    }

    #[test]
    fn pseudonymising_a_report_removes_every_name() {
        let r = DeletionReport {
            schema: REPORT_SCHEMA.into(),
            deletion_id: 3,
            client_id: 9,
            client: "acme".into(),
            client_name: "Acme Ltd".into(),
            client_deleted: false,
            subject_proof: None,
            instances: vec![RemovedInstance {
                id: 4,
                name: "shop".into(),
                data_bytes: 1,
                data_files: 1,
            }],
            categories: vec![Category::erased("instances", 1)],
            llm_keys_deleted: vec!["berth/o/acme/1".into()],
            llm_keys_left: Vec::new(),
            billing_kept: Vec::new(),
            deleted_at: "t".into(),
            deleted_by: "user:admin".into(),
            report_file: "/r/deletion-3.json".into(),
        }
        .pseudonymised(8);
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains("acme") && !text.contains("Acme") && !text.contains("shop"));
        assert_eq!(r.client, "erased:8");
        assert_eq!(r.instances[0].name, "instance-4");
    }
}
