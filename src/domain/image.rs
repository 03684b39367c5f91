//! Image references: the tag grammar a pin must follow and the registry an
//! image is pulled from (which login applies).

use super::DomainError;

/// A Docker tag: 1–128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`.
/// `""` means "no pin" (`None`).
pub fn parse_image_tag(tag: &str) -> Result<Option<String>, DomainError> {
    if tag.is_empty() {
        return Ok(None);
    }
    let ok = tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(Some(tag.to_owned()))
    } else {
        Err(DomainError::new(
            "image_tag",
            format!("{tag:?} is not a Docker tag (letters, digits, _ . -; at most 128)"),
        ))
    }
}

/// The registry host of `image` as the engine reads it: the first path
/// component when it looks like a host (has a `.` or `:`, or is
/// `localhost`), else Docker Hub (`docker.io`). `None` for an empty ref.
pub fn image_registry_host(image: &str) -> Option<&str> {
    if image.is_empty() {
        return None;
    }
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => Some(first),
        _ => Some("docker.io"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_dockers_grammar() {
        assert_eq!(parse_image_tag("").unwrap(), None);
        assert_eq!(
            parse_image_tag("v1.2_rc-3").unwrap().as_deref(),
            Some("v1.2_rc-3")
        );
        for bad in [".x", "-x", "a b", "a:b", "a/b", &"x".repeat(129)] {
            assert!(parse_image_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_registry_is_the_first_component_only_when_it_looks_like_a_host() {
        assert_eq!(image_registry_host("busybox"), Some("docker.io"));
        assert_eq!(image_registry_host("library/busybox:1"), Some("docker.io"));
        assert_eq!(image_registry_host("ghcr.io/a/b:main"), Some("ghcr.io"));
        assert_eq!(
            image_registry_host("127.0.0.1:5000/x:1"),
            Some("127.0.0.1:5000")
        );
        assert_eq!(image_registry_host("localhost/x"), Some("localhost"));
        assert_eq!(image_registry_host(""), None);
    }
}
