//! A confirmed delete while its job runs: what is being removed and how far
//! it got; the report itself is [`super::client_forms::report`].

use maud::{html, Markup};

use super::layout::{page, Chrome, Nav};
use crate::domain::DeletionStatus;
use crate::ops::DeletionJob;

pub fn progress(chrome: &Chrome, job: &DeletionJob) -> Markup {
    let what = if job.client_deleted {
        format!("client {}", job.client_name)
    } else {
        format!("an instance of {}", job.client_name)
    };
    let body = html! {
        @match job.status {
            DeletionStatus::Failed => {
                h1 { "Deleting " (what) " failed" }
                div.flash.flash-error role="alert" { (job.error) }
                p { "The containers are gone and the rows are kept; confirm the delete again to finish it." }
            }
            DeletionStatus::Pending => {
                h1 { "Deleting " (what) "…" }
                p role="status" { "Waiting for the containers, networks and routes to be removed. This page reloads until the report is ready." }
            }
            DeletionStatus::Running | DeletionStatus::Done => {
                h1 { "Deleting " (what) "…" }
                p role="status" { "Removing data and backups. This page reloads until the report is ready." }
            }
        }
        p { a.button href="/clients" { "Back to clients" } }
    };
    page("Deleting", Nav::Clients, chrome, body)
}
