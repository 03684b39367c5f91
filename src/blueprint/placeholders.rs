//! Filling a blueprint's `{client}`, `{domain}`, `{public_url}` ...
//! placeholders with one instance's values.

/// The values a blueprint's placeholders are filled with.
pub struct Placeholders<'a> {
    pub client: &'a str,
    pub client_name: &'a str,
    pub instance: &'a str,
    pub domain: &'a str,
    pub port: u16,
    /// See [`public_url`].
    pub public_url: String,
}

/// The URL browsers use for `domain` through Caddy: `https` when Caddy
/// terminates TLS, and the port only when it is not the scheme's default,
/// because an app that builds its own links (Open WebUI's WEBUI_URL) must
/// name exactly what the browser sees. Empty when the instance has no domain.
pub fn public_url(domain: &str, tls: bool, http_port: u16, https_port: u16) -> String {
    if domain.is_empty() {
        return String::new();
    }
    let (scheme, port, default) = if tls {
        ("https", https_port, 443)
    } else {
        ("http", http_port, 80)
    };
    if port == default {
        format!("{scheme}://{domain}")
    } else {
        format!("{scheme}://{domain}:{port}")
    }
}

impl Placeholders<'_> {
    pub fn fill(&self, template: &str, html: bool) -> String {
        let esc = |s: &str| {
            if html {
                maud::html!((s)).into_string()
            } else {
                s.to_owned()
            }
        };
        template
            .replace("{client_name}", &esc(self.client_name))
            .replace("{client}", self.client)
            .replace("{instance}", self.instance)
            .replace("{domain}", self.domain)
            .replace("{port}", &self.port.to_string())
            .replace("{public_url}", &esc(&self.public_url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_escape_html_only_when_asked() {
        let p = Placeholders {
            client: "acme",
            client_name: "<b>A&B</b>",
            instance: "main",
            domain: "a.example.com",
            port: 8001,
            public_url: public_url("a.example.com", false, 8088, 8443),
        };
        assert_eq!(
            p.fill("{client_name}@{domain}:{port}", false),
            "<b>A&B</b>@a.example.com:8001"
        );
        assert_eq!(p.fill("{client_name}", true), "&lt;b&gt;A&amp;B&lt;/b&gt;");
        assert_eq!(
            p.fill("WEBUI_URL={public_url}", false),
            "WEBUI_URL=http://a.example.com:8088"
        );
    }

    #[test]
    fn public_url_has_the_scheme_of_caddy_and_only_a_non_default_port() {
        // The default config: plain HTTP on 8088.
        assert_eq!(
            public_url("acme.localhost", false, 8088, 8443),
            "http://acme.localhost:8088"
        );
        assert_eq!(
            public_url("acme.example.com", false, 80, 443),
            "http://acme.example.com"
        );
        // With TLS the HTTPS port counts; the HTTP one only redirects.
        assert_eq!(
            public_url("acme.example.com", true, 80, 443),
            "https://acme.example.com"
        );
        assert_eq!(
            public_url("acme.example.com", true, 80, 8443),
            "https://acme.example.com:8443"
        );
        assert_eq!(
            public_url("acme.example.com", true, 8088, 443),
            "https://acme.example.com"
        );
        assert_eq!(public_url("", true, 80, 443), "");
    }
}
