//! Admin accounts for the web UI: argon2id password hashes, the first-run
//! setup, and the login throttle (failures live in SQLite, so a restart does
//! not reset it). Every account is an administrator.
//!
//! The throttle reserves an attempt before any hashing: counting recent
//! failures and recording this attempt as one happens in one immediate
//! transaction, so forty parallel guesses get exactly the allowed five; a
//! correct password then takes its reservation back. Hashing itself goes
//! through [`LoginGate`], at most one argon2 run per core, so a flood of
//! logins (or password resets) queues instead of taking every CPU.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use serde_json::json;

use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::DomainError;
use crate::store::{users, UserRow};

/// At most this many failed logins per IP and per account within [`THROTTLE_WINDOW`].
pub const THROTTLE_FAILURES: u32 = 5;
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);

pub fn check_user_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(DomainError::new(
            "name",
            "must be 1-40 of A-Z, a-z, 0-9, '-', '_', '.', '@'",
        ))
    }
}

pub fn check_password(password: &str) -> Result<(), DomainError> {
    let n = password.chars().count();
    if n < 10 {
        return Err(DomainError::new(
            "password",
            "must be at least 10 characters",
        ));
    }
    if n > 200 {
        return Err(DomainError::new(
            "password",
            "must be at most 200 characters",
        ));
    }
    Ok(())
}

/// Bounds the argon2 work running at once, and holds the throttle window
/// (a setting only tests change: they cannot wait fifteen minutes).
pub struct LoginGate {
    hashing: Arc<Semaphore>,
    window: Duration,
    counts: Arc<Counts>,
}

/// Password checks actually run and the most argon2 runs seen at once,
/// for tests and the curious.
#[derive(Default)]
struct Counts {
    verified: AtomicU64,
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl Default for LoginGate {
    fn default() -> Self {
        Self::new(THROTTLE_WINDOW)
    }
}

impl LoginGate {
    pub fn new(window: Duration) -> Self {
        Self {
            hashing: Arc::new(Semaphore::new(Self::limit())),
            window,
            counts: Arc::default(),
        }
    }

    /// argon2 runs allowed at once: one per core.
    pub fn limit() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// How many passwords were checked against a hash (throttled attempts
    /// never are).
    pub fn verified(&self) -> u64 {
        self.counts.verified.load(Ordering::Relaxed)
    }

    /// The most argon2 runs that were ever in progress together.
    pub fn peak(&self) -> usize {
        self.counts.peak.load(Ordering::Relaxed)
    }

    /// Runs `work` on the blocking pool under a permit. The permit moves
    /// into the task, so a request dropped mid-hash (a client hanging up)
    /// cannot free its slot while the CPU is still busy with it.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, OpsError> {
        let permit = self
            .hashing
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| OpsError::Io(e.to_string()))?;
        let counts = self.counts.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let now = counts.running.fetch_add(1, Ordering::SeqCst) + 1;
            counts.peak.fetch_max(now, Ordering::SeqCst);
            let out = work();
            counts.running.fetch_sub(1, Ordering::SeqCst);
            out
        })
        .await
        .map_err(|e| OpsError::Io(e.to_string()))
    }
}

/// argon2id with the crate's defaults (19 MiB, 2 passes): tens of
/// milliseconds, so it always runs off the runtime and outside the store lock.
pub(super) async fn hash(gate: &LoginGate, password: String) -> Result<String, OpsError> {
    gate.run(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| OpsError::Io(format!("hashing password: {e}")))
    })
    .await?
}

/// Unknown names are checked against this hash so a login takes as long
/// whether or not the account exists.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        Argon2::default()
            .hash_password(b"berth-no-such-user")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

pub(super) async fn verify(gate: &LoginGate, password: String, stored: Option<String>) -> bool {
    gate.counts.verified.fetch_add(1, Ordering::Relaxed);
    gate.run(move || {
        let hash = stored.as_deref().unwrap_or_else(|| dummy_hash());
        Argon2::default()
            .verify_password(password.as_bytes(), hash)
            .is_ok()
            && stored.is_some()
    })
    .await
    .unwrap_or(false)
}

impl Ops {
    pub async fn user_count(&self) -> Result<u32, OpsError> {
        Ok(self.store.read(users::count).await?)
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>, OpsError> {
        Ok(self.store.read(users::list).await?)
    }

    pub async fn create_user(
        &self,
        actor: &Actor,
        name: &str,
        password: &str,
    ) -> Result<(), OpsError> {
        self.insert_user(actor, name, password, false).await
    }

    /// Creates the first account; refused once any account exists, so the
    /// setup page cannot be used to add a second one.
    pub async fn setup_first_user(
        &self,
        actor: &Actor,
        name: &str,
        password: &str,
    ) -> Result<(), OpsError> {
        self.insert_user(actor, name, password, true).await
    }

    async fn insert_user(
        &self,
        actor: &Actor,
        name: &str,
        password: &str,
        first: bool,
    ) -> Result<(), OpsError> {
        let name = check_user_name(name)?;
        check_password(password)?;
        let hash = hash(&self.login, password.to_owned()).await?;
        let actor = actor.clone();
        self.write(move |tx| {
            if first && users::count(tx)? > 0 {
                return Err(OpsError::Refused(
                    "an account exists already; sign in instead".into(),
                ));
            }
            users::insert(tx, &name, &hash)?;
            audit::record(
                tx,
                &actor,
                "user.create",
                &name,
                None,
                json!({ "first_run": first }),
            )?;
            Ok(())
        })
        .await
    }

    pub async fn reset_password(
        &self,
        actor: &Actor,
        name: &str,
        password: &str,
    ) -> Result<(), OpsError> {
        check_password(password)?;
        let hash = hash(&self.login, password.to_owned()).await?;
        let (name, actor) = (name.to_owned(), actor.clone());
        self.write(move |tx| {
            users::set_password(tx, &name, &hash)?;
            audit::record(tx, &actor, "user.reset-password", &name, None, json!({}))?;
            Ok(())
        })
        .await
    }

    /// Refuses to delete the acting user or the last account: either would
    /// lock the provider out of the UI.
    pub async fn delete_user(&self, actor: &Actor, name: &str) -> Result<(), OpsError> {
        if actor.name == format!("user:{name}") {
            return Err(OpsError::Refused(
                "you cannot delete your own account".into(),
            ));
        }
        let (name, actor) = (name.to_owned(), actor.clone());
        self.write(move |tx| {
            if users::password_hash(tx, &name)?.is_none() {
                return Err(OpsError::NotFound(format!("user {name} not found")));
            }
            if users::count(tx)? <= 1 {
                return Err(OpsError::Refused(
                    "the last account cannot be deleted".into(),
                ));
            }
            users::delete(tx, &name)?;
            audit::record(tx, &actor, "user.delete", &name, None, json!({}))?;
            Ok(())
        })
        .await
    }

    /// Checks a login. Refused without checking the password while the IP or
    /// the account has [`THROTTLE_FAILURES`] recent failures (attempts still
    /// being checked count as failures). Successes and failures both land in
    /// the audit log (never the password).
    pub async fn login(&self, name: &str, password: &str, ip: &str) -> Result<(), OpsError> {
        let (account, ip_owned) = (name.trim().to_owned(), ip.to_owned());
        let window = self.login.window();
        let reserved = self
            .write({
                let (account, ip) = (account.clone(), ip_owned.clone());
                move |tx| {
                    let since = crate::store::now_minus(window);
                    let (by_ip, by_account) = users::failures_since(tx, &ip, &account, &since)?;
                    if by_ip >= THROTTLE_FAILURES || by_account >= THROTTLE_FAILURES {
                        return Ok(None);
                    }
                    let attempt = users::record_failure(tx, &ip, &account)?;
                    let stored = users::password_hash(tx, &account)?;
                    Ok(Some((attempt, stored)))
                }
            })
            .await?;
        let Some((attempt, stored)) = reserved else {
            return Err(OpsError::Throttled(format!(
                "too many failed sign-ins from this address or for this account; wait {} minutes and try again",
                window.as_secs().div_ceil(60)
            )));
        };
        let ok = verify(&self.login, password.to_owned(), stored).await;
        let actor = Actor::user(&account, Some(ip_owned.clone()));
        self.write(move |tx| {
            if ok {
                // Forgives this attempt and this IP's earlier failures
                // for the account.
                users::clear_failures(tx, &ip_owned, &account)?;
                audit::record(tx, &actor, "user.login", &account, None, json!({}))?;
            } else {
                // The reservation stays: it is the recorded failure.
                audit::record(
                    tx,
                    &actor,
                    "user.login-failed",
                    &account,
                    None,
                    json!({ "attempt": attempt }),
                )?;
            }
            Ok(())
        })
        .await?;
        if ok {
            Ok(())
        } else {
            Err(OpsError::Refused("wrong name or password".into()))
        }
    }

    /// The login throttle's window and hashing counter.
    pub fn login_gate(&self) -> &LoginGate {
        &self.login
    }
}
