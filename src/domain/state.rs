//! The states berth keeps in its store, as enums. Each one's text is what the
//! database column, the JSON API and the CLI's output hold, so `as_str`,
//! `parse`, `Display` and serde all go through the one table in its
//! [`state_enum!`] invocation: renaming a variant can never change a stored
//! or printed word.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::DomainError;

/// Declares a state enum with its text per variant. `$field` names the
/// value in the error an unknown text gets.
macro_rules! state_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $field:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(value: &str) -> Result<Self, DomainError> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err(DomainError::new(
                        $field,
                        format!("{value:?} is not one of {}", [$($text),+].join(", ")),
                    )),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = DomainError;

            fn from_str(value: &str) -> Result<Self, DomainError> {
                Self::parse(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = DomainError;

            fn try_from(value: &str) -> Result<Self, DomainError> {
                Self::parse(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use state_enum;

state_enum! {
    /// What the provider wants an instance to be doing.
    DesiredState, "desired_state" {
        Running = "running",
        Stopped = "stopped",
        /// Being deleted: container, network and route go; data stays until
        /// the confirmed delete finishes.
        Absent = "absent",
    }
}

state_enum! {
    /// What the reconciler last observed of an instance.
    Phase, "phase" {
        Pending = "pending",
        Pulling = "pulling",
        Creating = "creating",
        Starting = "starting",
        Running = "running",
        Unhealthy = "unhealthy",
        Stopped = "stopped",
        Error = "error",
        /// Container, network and route are gone; data awaits the confirmed delete.
        Removed = "removed",
    }
}

state_enum! {
    /// Whether a client's instances may run.
    ClientStatus, "status" {
        Active = "active",
        Suspended = "suspended",
    }
}

state_enum! {
    /// What a client's user may do in the portal: an owner also invites and
    /// removes the client's members and asks for new instances.
    ClientRole, "role" {
        Owner = "owner",
        Member = "member",
    }
}

state_enum! {
    /// Whether a client's request for a new instance waits for the provider
    /// (a plan's `approval`). A plan that says nothing waits: a new instance
    /// costs the provider resources, so it is never granted by default.
    #[derive(Default)]
    Approval, "approval" {
        Auto = "auto",
        #[default]
        Manual = "manual",
    }
}

state_enum! {
    /// What a one-time link in a mail is for: a first password (an
    /// invitation, valid 72 h) or a forgotten one (valid 2 h).
    LinkKind, "kind" {
        Invite = "invite",
        Reset = "reset",
    }
}

state_enum! {
    /// Where a client's request for a new instance stands: requested →
    /// approved → provisioning → running, or rejected (with a reason) /
    /// failed (with the message). The store keeps only the decision
    /// (requested, approved, rejected, failed); provisioning and running are
    /// read from the created instance's observed phase (see
    /// [`RequestStatus::seen`]).
    RequestStatus, "request_status" {
        Requested = "requested",
        Approved = "approved",
        Provisioning = "provisioning",
        Running = "running",
        Rejected = "rejected",
        Failed = "failed",
    }
}

state_enum! {
    /// Where a backup job stands: a backup, its verification, or a restore
    /// from it (the three columns share this life: queued → running → ok | failed).
    BackupStatus, "status" {
        Queued = "queued",
        Running = "running",
        Ok = "ok",
        Failed = "failed",
    }
}

state_enum! {
    /// Who asked for a backup.
    Trigger, "trigger" {
        Api = "api",
        Cli = "cli",
        Schedule = "schedule",
        Ui = "ui",
        /// Rebuilt from its sidecar manifest after the database was lost.
        Import = "import",
        /// Taken by a rollout before updating the instance: its rollback point.
        Rollout = "rollout",
    }
}

state_enum! {
    /// Where a restore writes: over the backup's own instance, or into a new one.
    RestoreMode, "mode" {
        InPlace = "in_place",
        Clone = "clone",
    }
}

state_enum! {
    /// How far a confirmed delete got.
    DeletionStatus, "deletion_status" {
        /// Instances are marked absent; waiting for their containers to go.
        Pending = "pending",
        /// Containers are gone; data, backups and rows are being removed.
        Running = "running",
        Done = "done",
        Failed = "failed",
    }
}

state_enum! {
    /// Which LLM key API berth manages keys through (`[llm] provider`).
    LlmProvider, "provider" {
        OpenRouter = "openrouter",
        LiteLlm = "litellm",
    }
}

state_enum! {
    /// Where a client's LLM key stands at its provider, as last observed.
    LlmKeyStatus, "llm_key_status" {
        /// The row is written and the provider's create has not been
        /// confirmed: a crash here leaves a key to find by its label.
        Creating = "creating",
        Active = "active",
        /// Exists but refuses requests (the client is suspended).
        Disabled = "disabled",
        /// Gone at the provider; the row stays as the record until its client goes.
        Deleted = "deleted",
    }
}

state_enum! {
    /// When a key's spend limit starts again (midnight UTC at the provider).
    LimitReset, "limit_reset" {
        Daily = "daily",
        Weekly = "weekly",
        Monthly = "monthly",
    }
}

state_enum! {
    /// How close a key's spend is to its limit: past 80 %, or at it.
    SpendWarning, "spend_warning" {
        NearLimit = "near_limit",
        LimitReached = "limit_reached",
    }
}

impl DeletionStatus {
    /// Done or failed: nothing more will happen to this job.
    pub fn is_finished(self) -> bool {
        matches!(self, DeletionStatus::Done | DeletionStatus::Failed)
    }
}

impl DesiredState {
    /// Still an instance (not on its way out).
    pub fn is_live(self) -> bool {
        self != DesiredState::Absent
    }
}

impl BackupStatus {
    /// How a job that ran ends.
    pub fn finished(ok: bool) -> Self {
        if ok {
            BackupStatus::Ok
        } else {
            BackupStatus::Failed
        }
    }

    /// Done, one way or the other: nothing more will change it.
    pub fn is_finished(self) -> bool {
        matches!(self, BackupStatus::Ok | BackupStatus::Failed)
    }

    /// Queued or running: a runner has it or will take it.
    pub fn is_active(self) -> bool {
        !self.is_finished()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value survives text → enum → text and serde with the same
    /// text both ways, and the texts are the words the store and the API
    /// held before these enums existed.
    fn round_trips<T>(all: &[T], as_str: fn(T) -> &'static str, words: &str)
    where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + std::str::FromStr + Serialize,
        T: for<'de> Deserialize<'de>,
    {
        let texts: Vec<&str> = all.iter().map(|&v| as_str(v)).collect();
        assert_eq!(texts.join(" "), words);
        for &value in all {
            let text = as_str(value);
            assert_eq!(text.parse::<T>().ok(), Some(value), "{text}");
            assert_eq!(value.to_string(), text);
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
        }
    }

    #[test]
    fn every_state_round_trips_through_its_stored_word() {
        let phases = "pending pulling creating starting running unhealthy stopped error removed";
        round_trips(
            DesiredState::ALL,
            DesiredState::as_str,
            "running stopped absent",
        );
        round_trips(Phase::ALL, Phase::as_str, phases);
        round_trips(ClientStatus::ALL, ClientStatus::as_str, "active suspended");
        round_trips(Approval::ALL, Approval::as_str, "auto manual");
        round_trips(
            RequestStatus::ALL,
            RequestStatus::as_str,
            "requested approved provisioning running rejected failed",
        );
        round_trips(
            BackupStatus::ALL,
            BackupStatus::as_str,
            "queued running ok failed",
        );
        round_trips(
            Trigger::ALL,
            Trigger::as_str,
            "api cli schedule ui import rollout",
        );
        round_trips(RestoreMode::ALL, RestoreMode::as_str, "in_place clone");
        round_trips(
            DeletionStatus::ALL,
            DeletionStatus::as_str,
            "pending running done failed",
        );
        round_trips(LlmProvider::ALL, LlmProvider::as_str, "openrouter litellm");
        round_trips(
            LlmKeyStatus::ALL,
            LlmKeyStatus::as_str,
            "creating active disabled deleted",
        );
        round_trips(LimitReset::ALL, LimitReset::as_str, "daily weekly monthly");
        round_trips(
            SpendWarning::ALL,
            SpendWarning::as_str,
            "near_limit limit_reached",
        );
    }

    #[test]
    fn unknown_text_is_refused_with_the_field_named() {
        let err = DesiredState::parse("paused").unwrap_err();
        assert_eq!(err.field, "desired_state");
        assert!(err.problem.contains("running, stopped, absent"), "{err}");
        assert!(Phase::parse("").is_err());
        assert!("Running".parse::<Phase>().is_err(), "case matters");
        assert!(BackupStatus::try_from("done").is_err());
        assert!(Trigger::parse("cron").is_err());
        assert!(RestoreMode::parse("in-place").is_err());
        assert!(ClientStatus::parse("deleted").is_err());
        assert!(serde_json::from_str::<BackupStatus>("\"OK\"").is_err());
    }

    #[test]
    fn helpers_split_the_states() {
        assert!(DesiredState::Stopped.is_live());
        assert!(!DesiredState::Absent.is_live());
        assert!(BackupStatus::Queued.is_active() && BackupStatus::Running.is_active());
        assert!(BackupStatus::Ok.is_finished() && BackupStatus::Failed.is_finished());
        assert_eq!(BackupStatus::finished(true), BackupStatus::Ok);
        assert_eq!(BackupStatus::finished(false), BackupStatus::Failed);
        assert!(DeletionStatus::Done.is_finished() && DeletionStatus::Failed.is_finished());
        assert!(!DeletionStatus::Running.is_finished());
    }
}
