use super::{Ops, OpsError};
use crate::store::{audit as rows, AuditEntry, AuditFilter};

impl Ops {
    pub async fn query_audit(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>, OpsError> {
        Ok(self
            .store
            .read(move |conn| rows::query(conn, &filter))
            .await?)
    }
}
