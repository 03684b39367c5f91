//! Addresses of admin pages built from user data, shared by handlers
//! (redirects), forms and views (links).

/// A path segment for a URL built from user data (slugs and names are
/// already URL-safe; this keeps it so if that ever changes).
pub fn seg(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// An instance's backup history.
pub fn history_url(instance_id: i64) -> String {
    format!("/instances/{instance_id}/backups")
}
