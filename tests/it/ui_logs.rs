//! The admin's logs page in a real browser: the container's last lines,
//! ANSI colour codes stripped, and the tail links choosing how many.

use std::time::Duration;

use fantoccini::Locator;

use crate::harness::{eventually, TestApp};
use crate::ui::{fill, submit, wait_text, Driver};

const UP: Duration = Duration::from_secs(90);

/// Busybox httpd after 300 green lines `line-001 ok` … `line-300 ok`.
fn chatty_site(static_image: &str) -> String {
    let command = r#"command = ['/bin/sh', '-c', 'i=1; while [ $i -le 300 ]; do printf "\033[32mline-%03d\033[0m ok\n" $i; i=$((i+1)); done; exec /bin/httpd -f -p 8080 -h /www']"#;
    format!(
        "image = \"{static_image}\"\nbuild = \"busybox\"\ninternal_port = 8080\n{command}\n\
         data_mount = \"/www\"\ncap_add = []\ndata_owner = \"0:0\"\n"
    )
}

async fn logs_text(b: &fantoccini::Client) -> String {
    match b.find(Locator::Css("pre.logs")).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_page_shows_clean_lines_and_its_tail_links_work() {
    let app = TestApp::spawn_with(|c| {
        let dir = c.blueprint_dir.clone().unwrap();
        // The app's own static image, as the harness wrote it into static-site.toml.
        let site = std::fs::read_to_string(dir.join("static-site.toml")).unwrap();
        let image = site
            .lines()
            .find_map(|l| l.strip_prefix("image = \""))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap()
            .to_owned();
        std::fs::write(dir.join("chatty.toml"), chatty_site(&image)).unwrap();
    })
    .await;
    app.ops()
        .create_user(&berth::audit::Actor::cli(), "logs-admin", "correct-horse-1")
        .await
        .unwrap();
    app.create_plan("p", 0.5, "64MiB").await;
    let (status, client) = app
        .post(
            "/api/v1/clients",
            serde_json::json!({ "name": "Chatty", "email": "a@b.example", "plan": "p", "blueprint": "chatty" }),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{client}");
    let id = client["instances"][0]["id"].as_i64().unwrap();
    app.wait_phase(id, &["running"], UP).await;

    let driver = Driver::start().await;
    let b = driver.browser().await;
    let base = app.api.clone();
    b.goto(&format!("{base}/login")).await.unwrap();
    fill(&b, "name", "logs-admin").await;
    fill(&b, "password", "correct-horse-1").await;
    submit(&b, "/login").await;
    wait_text(&b, "h1", &["Dashboard"]).await;

    // The default tail (200): lines 101-300, colour codes gone.
    b.goto(&format!("{base}/instances/{id}/logs"))
        .await
        .unwrap();
    let text = eventually("the last line is on the page", UP, || async {
        let t = logs_text(&b).await;
        if t.contains("line-300 ok") {
            return Some(t);
        }
        b.refresh().await.unwrap();
        None
    })
    .await;
    assert!(
        text.contains("line-101 ok") && !text.contains("line-100"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}') && !text.contains("[32m"),
        "ANSI stripped: {text}"
    );

    // "Last 100" asks for fewer, "Last 500" for all of them.
    b.find(Locator::Css(&format!(
        "a[href='/instances/{id}/logs?tail=100']"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let text = eventually("the 100-line tail", UP, || async {
        let t = logs_text(&b).await;
        (!t.contains("line-200") && t.contains("line-300")).then_some(t)
    })
    .await;
    assert!(text.contains("line-201 ok"), "{text}");
    assert!(b
        .current_url()
        .await
        .unwrap()
        .as_str()
        .ends_with("tail=100"));
    b.find(Locator::Css(&format!(
        "a[href='/instances/{id}/logs?tail=500']"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let text = eventually("the 500-line tail", UP, || async {
        let t = logs_text(&b).await;
        t.contains("line-001 ok").then_some(t)
    })
    .await;
    assert_eq!(text.matches(" ok").count(), 300, "{text}");
    // Refresh keeps the tail chosen.
    let refresh = b
        .find(Locator::LinkText("Refresh"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(
        refresh.as_deref(),
        Some(format!("/instances/{id}/logs?tail=500").as_str())
    );
    b.close().await.unwrap();
}
