//! Connection and the error mapping every call shares.

use std::path::Path;
use std::sync::Arc;

use bollard::errors::Error as BollardError;

use super::DockerError;

/// Cheap to clone: bollard's client is a handle over a shared connection pool.
#[derive(Clone)]
pub struct Docker {
    pub(super) inner: bollard::Docker,
    pub(super) owner: Arc<str>,
    /// Private registries' logins, handed to every pull from their host.
    pub(super) logins: Arc<[RegistryLogin]>,
}

/// A login for one registry host (`[[registry]]` in the config).
#[derive(Clone)]
pub struct RegistryLogin {
    pub host: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin")
            .field("host", &self.host)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Docker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Docker")
            .field("owner", &self.owner)
            .finish()
    }
}

// Per-request limit for reaching the engine and getting response headers;
// streams (events, pulls) are not cut by it once headers arrived.
const REQUEST_TIMEOUT_S: u64 = 120;

impl Docker {
    /// Connects over the unix socket, negotiates the API version (bollard
    /// defaults to a newer API than Debian's 20.10 engine speaks) and pings.
    pub async fn connect(socket: &Path, owner: &str) -> Result<Self, DockerError> {
        let socket_str = socket.to_string_lossy().into_owned();
        let unreachable = |source| DockerError::Unreachable {
            socket: socket_str.clone(),
            source,
        };
        let inner = bollard::Docker::connect_with_unix(
            &socket_str,
            REQUEST_TIMEOUT_S,
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(unreachable)?;
        let inner = inner.negotiate_version().await.map_err(unreachable)?;
        inner.ping().await.map_err(unreachable)?;
        Ok(Self {
            inner,
            owner: owner.into(),
            logins: Arc::from([]),
        })
    }

    /// The same connection, pulling with these registry logins.
    pub fn with_logins(mut self, logins: Vec<RegistryLogin>) -> Self {
        self.logins = logins.into();
        self
    }

    /// The login for the registry `image` comes from, if one is configured.
    pub(super) fn login_for(&self, image: &str) -> Option<&RegistryLogin> {
        let host = crate::domain::image_registry_host(image)?;
        self.logins.iter().find(|l| l.host == host)
    }

    /// Value of the MANAGED label on everything this instance creates.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Engine version string, e.g. "20.10.24+dfsg1".
    pub async fn version(&self) -> Result<String, DockerError> {
        let v = self.inner.version().await?;
        Ok(v.version.unwrap_or_else(|| "unknown".into()))
    }
}

pub(super) fn status_code(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// Maps 404 and 409 to the variants callers branch on; `what` names the
/// object for the message.
pub(super) fn classify(e: BollardError, what: impl FnOnce() -> String) -> DockerError {
    match status_code(&e) {
        Some(404) => DockerError::NotFound(what()),
        Some(409) => DockerError::Conflict(what()),
        _ => DockerError::Api(e),
    }
}
