//! The rules of a client's request for a new instance: which status may
//! follow which, what the requester sees once an instance exists, and
//! whether the plan leaves room for one more.

use super::{DomainError, Phase, RequestStatus};

/// A decision on a request; only a request still waiting can take one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Approve,
    Reject,
    /// The instance could not be created (the message says why).
    Fail,
}

impl RequestStatus {
    /// The stored status after `t`; a request already decided keeps its
    /// decision (a second approve, a reject after the instance exists).
    pub fn apply(self, t: Transition) -> Result<RequestStatus, DomainError> {
        match (self, t) {
            (RequestStatus::Requested, Transition::Approve) => Ok(RequestStatus::Approved),
            (RequestStatus::Requested, Transition::Reject) => Ok(RequestStatus::Rejected),
            (RequestStatus::Requested, Transition::Fail) => Ok(RequestStatus::Failed),
            (done, _) => Err(DomainError::new(
                "status",
                format!("the request is already {done}"),
            )),
        }
    }

    /// What the requester sees: the stored decision, carried on by the
    /// created instance's observed phase while it comes up. An instance that
    /// was later stopped or removed leaves the request at "approved" (the
    /// instance's own status says the rest).
    pub fn seen(self, phase: Option<Phase>) -> RequestStatus {
        match (self, phase) {
            (RequestStatus::Approved, Some(Phase::Running)) => RequestStatus::Running,
            (RequestStatus::Approved, Some(Phase::Error)) => RequestStatus::Failed,
            (RequestStatus::Approved, Some(Phase::Stopped | Phase::Removed) | None) => {
                RequestStatus::Approved
            }
            (RequestStatus::Approved, Some(_)) => RequestStatus::Provisioning,
            (stored, _) => stored,
        }
    }

    /// Waiting for the provider.
    pub fn is_pending(self) -> bool {
        self == RequestStatus::Requested
    }
}

/// A client's room for one more instance under its plan's `max_instances`:
/// instances it has plus requests still waiting (each may become one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceQuota {
    pub max: Option<u32>,
    pub instances: u32,
    pub pending: u32,
}

impl InstanceQuota {
    /// `Ok` when one more request fits; otherwise the reason, worded for the
    /// client. A plan lowered below what the client runs keeps those
    /// instances but says so, rather than a bare "quota reached".
    pub fn check(&self, plan: &str) -> Result<(), String> {
        let Some(max) = self.max else { return Ok(()) };
        let (have, waiting) = (self.instances, self.pending);
        if have > max {
            return Err(format!(
                "plan {plan} now allows {max} instance(s) and you have {have}: \
                 they keep running, but no new instance can be requested on this plan"
            ));
        }
        if have + waiting >= max {
            let pending = match waiting {
                0 => String::new(),
                n => format!(" and {n} request(s) waiting for approval"),
            };
            return Err(format!(
                "plan {plan} allows {max} instance(s); you have {have}{pending}"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestStatus as S;

    #[test]
    fn only_a_waiting_request_is_decided_and_only_once() {
        assert_eq!(S::Requested.apply(Transition::Approve), Ok(S::Approved));
        assert_eq!(S::Requested.apply(Transition::Reject), Ok(S::Rejected));
        assert_eq!(S::Requested.apply(Transition::Fail), Ok(S::Failed));
        for done in [
            S::Approved,
            S::Rejected,
            S::Failed,
            S::Provisioning,
            S::Running,
        ] {
            for t in [Transition::Approve, Transition::Reject, Transition::Fail] {
                let err = done.apply(t).unwrap_err();
                assert!(err.problem.contains(done.as_str()), "{err}");
            }
        }
    }

    #[test]
    fn an_approved_request_follows_its_instance() {
        assert_eq!(S::Approved.seen(Some(Phase::Pending)), S::Provisioning);
        assert_eq!(S::Approved.seen(Some(Phase::Pulling)), S::Provisioning);
        assert_eq!(S::Approved.seen(Some(Phase::Starting)), S::Provisioning);
        assert_eq!(S::Approved.seen(Some(Phase::Running)), S::Running);
        assert_eq!(S::Approved.seen(Some(Phase::Error)), S::Failed);
        assert_eq!(S::Approved.seen(Some(Phase::Stopped)), S::Approved);
        assert_eq!(S::Approved.seen(None), S::Approved);
        // Undecided or refused requests have no instance to follow.
        assert_eq!(S::Requested.seen(Some(Phase::Running)), S::Requested);
        assert_eq!(S::Rejected.seen(None), S::Rejected);
        assert_eq!(S::Failed.seen(None), S::Failed);
        assert!(S::Requested.is_pending() && !S::Approved.is_pending());
    }

    #[test]
    fn pending_requests_count_against_the_plan() {
        let q = |max, instances, pending| InstanceQuota {
            max,
            instances,
            pending,
        };
        assert!(q(None, 50, 50).check("p").is_ok());
        assert!(q(Some(3), 1, 1).check("p").is_ok());
        let full = q(Some(3), 1, 2).check("p").unwrap_err();
        assert!(
            full.contains("allows 3") && full.contains("2 request(s) waiting"),
            "{full}"
        );
        let full = q(Some(2), 2, 0).check("p").unwrap_err();
        assert!(
            full.contains("you have 2") && !full.contains("waiting"),
            "{full}"
        );
    }

    #[test]
    fn a_plan_lowered_below_usage_says_so() {
        let q = InstanceQuota {
            max: Some(1),
            instances: 3,
            pending: 0,
        };
        let why = q.check("small").unwrap_err();
        assert!(
            why.contains("now allows 1") && why.contains("keep running"),
            "{why}"
        );
    }
}
