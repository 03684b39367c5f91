use std::collections::HashMap;

use super::{Ops, OpsError};
use crate::store::overview::{self, Overview};

impl Ops {
    /// Counts, committed limits and failing instances for the dashboard.
    pub async fn overview(&self) -> Result<Overview, OpsError> {
        Ok(self.store.call(|conn| overview::overview(conn)).await?)
    }

    /// Every client's instance phases, keyed by client id.
    pub async fn client_phases(&self) -> Result<HashMap<i64, Vec<String>>, OpsError> {
        Ok(self
            .store
            .call(|conn| overview::client_phases(conn))
            .await?)
    }
}
