//! The usage pages: dashboard (top consumers, over-quota and OOM-prone
//! instances), host capacity, and per-client / per-instance charts.
//!
//! They render into the admin UI's shared layout; styles live in
//! `assets/berth.css` (the CSP forbids inline styles).

use maud::{html, Markup};

use super::charts::{bytes, chart, Chart, Limit, Series, Unit, BLUE_, GREEN_, ORANGE};
use super::layout::{page, Chrome, Nav};
use crate::metrics::Range;
use crate::ops::{ClientUsage, Consumer, HostUsage, InstanceUsage};
use crate::store::usage::QuotaWarning;

/// The shared admin layout with "Usage" selected.
pub fn layout(title: &str, chrome: &Chrome, body: Markup) -> Markup {
    page(
        title,
        Nav::Usage,
        chrome,
        html! { h1 { (title) } nav.subnav { a href="/usage" { "Top consumers" } " " a href="/usage/host" { "Host" } } (body) },
    )
}

/// Links to the same chart page over each range.
pub fn ranges(base: &str, current: Range) -> Markup {
    html! {
        p.ranges {
            @for r in Range::ALL {
                a href={ (base) "?range=" (r.as_str()) } class=[(r == current).then_some("current")] { (r.as_str()) }
                " "
            }
        }
    }
}

fn pct(used: f64, of: f64) -> String {
    if of > 0.0 {
        format!("{:.0} %", used / of * 100.0)
    } else {
        "–".into()
    }
}

pub fn dashboard(
    chrome: &Chrome,
    top: &[Consumer],
    warnings: &[QuotaWarning],
    host: &HostUsage,
) -> Markup {
    let oom: Vec<&Consumer> = top.iter().filter(|c| c.frequent_oom).collect();
    let body = html! {
        (capacity(host))
        @if !warnings.is_empty() {
            h2 { "Over storage quota" }
            table {
                tr { th { "client" } th { "instance" } th.num { "used" } th.num { "quota" } th { "since" } }
                @for w in warnings {
                    tr.bad {
                        td { a href={ "/usage/clients/" (w.client_slug) } { (w.client_slug) } }
                        td { a href={ "/usage/instances/" (w.instance_id) } { (w.instance) } }
                        td.num { (bytes(w.used as f64)) } td.num { (bytes(w.quota as f64)) } td { (w.since) }
                    }
                }
            }
        }
        @if !oom.is_empty() {
            h2 { "Frequently out of memory (last 24 h)" }
            ul {
                @for c in &oom {
                    li { a href={ "/usage/instances/" (c.instance_id) } { (c.client) " / " (c.instance) } " — " (c.oom_kills) " OOM kills" }
                }
            }
        }
        h2 { "Top consumers (last 24 h)" }
        (consumers(top))
    };
    layout("Usage", chrome, body)
}

fn consumers(top: &[Consumer]) -> Markup {
    html! {
        table {
            tr {
                th { "client" } th { "instance" } th.num { "CPU avg" } th.num { "of plan" } th.num { "memory avg" }
                th.num { "peak / limit" } th.num { "disk" } th.num { "of quota" } th.num { "net in" } th.num { "net out" } th.num { "OOM" }
            }
            @for c in top {
                tr class=[if c.over_quota { Some("bad") } else if c.frequent_oom { Some("warn") } else { None }] {
                    td { a href={ "/usage/clients/" (c.client) } { (c.client) } }
                    td { a href={ "/usage/instances/" (c.instance_id) } { (c.instance) } }
                    td.num { (format!("{:.2}", c.cpu_avg)) }
                    td.num { (pct(c.cpu_avg, c.cpus)) }
                    td.num { (bytes(c.mem_avg)) }
                    td.num { (pct(c.mem_max as f64, c.memory_limit as f64)) }
                    td.num { (bytes(c.disk as f64)) @if c.over_quota { " " span.badge { "over quota" } } }
                    td.num { (c.storage_quota.map_or("–".into(), |q| pct(c.disk as f64, q as f64))) }
                    td.num { (bytes(c.rx as f64)) }
                    td.num { (bytes(c.tx as f64)) }
                    td.num { (c.oom_kills) }
                }
            }
        }
    }
}

fn capacity(host: &HostUsage) -> Markup {
    let c = &host.capacity;
    let latest = host.latest.as_ref();
    html! {
        h2 { "Host capacity" }
        table {
            tr { th { "" } th.num { "host" } th.num { "in use now" } th.num { "allocated to plans" } th.num { "overcommit" } }
            tr class=[(c.cpu_overcommit() > 1.0).then_some("warn")] {
                td { "CPU cores" } td.num { (c.cpus) }
                td.num { (latest.map_or("–".into(), |h| format!("{:.2}", h.cpu_used))) }
                td.num { (format!("{:.2}", c.cpus_allocated)) } td.num { (format!("{:.2}×", c.cpu_overcommit())) }
            }
            tr class=[(c.mem_overcommit() > 1.0).then_some("warn")] {
                td { "Memory" } td.num { (bytes(c.mem_total as f64)) }
                td.num { (latest.map_or("–".into(), |h| bytes(h.mem_used as f64))) }
                td.num { (bytes(c.mem_allocated as f64)) } td.num { (format!("{:.2}×", c.mem_overcommit())) }
            }
            tr class=[(c.storage_overcommit() > 1.0).then_some("warn")] {
                td { "Disk (data dir)" } td.num { (bytes(c.disk_total as f64)) }
                td.num { (latest.map_or("–".into(), |h| bytes(h.disk_used as f64))) }
                td.num { (bytes(c.storage_allocated as f64)) } td.num { (format!("{:.2}×", c.storage_overcommit())) }
            }
        }
        p { (c.instances) " running instances. Load (1 min): " (latest.map_or("–".into(), |h| format!("{:.2}", h.load1))) }
    }
}

pub fn host_page(chrome: &Chrome, host: &HostUsage) -> Markup {
    let (from, to) = crate::ops::usage_window(host.range);
    let pts = |f: fn(&crate::store::metrics::HostSample) -> f64| {
        host.series.iter().map(|h| (h.ts, f(h))).collect::<Vec<_>>()
    };
    let c = &host.capacity;
    let body = html! {
        (ranges("/usage/host", host.range))
        (capacity(host))
        div.charts {
            (chart(&Chart { title: "CPU cores busy", unit: Unit::Cores, from, to,
                series: vec![Series { label: "busy", color: BLUE_, points: pts(|h| h.cpu_used), area: true },
                             Series { label: "load (1 min)", color: ORANGE, points: pts(|h| h.load1), area: false }],
                limits: vec![Limit { label: "cores", value: f64::from(c.cpus) }] }))
            (chart(&Chart { title: "Memory", unit: Unit::Bytes, from, to,
                series: vec![Series { label: "used", color: BLUE_, points: pts(|h| h.mem_used as f64), area: true }],
                limits: vec![Limit { label: "total", value: c.mem_total as f64 }] }))
            (chart(&Chart { title: "Disk", unit: Unit::Bytes, from, to,
                series: vec![Series { label: "used", color: BLUE_, points: pts(|h| h.disk_used as f64), area: true }],
                limits: vec![Limit { label: "total", value: c.disk_total as f64 }] }))
        }
    };
    layout("Host", chrome, body)
}

/// The four charts of one instance, under a heading linking to its admin page.
pub fn instance_charts(u: &InstanceUsage, range: Range) -> Markup {
    instance_charts_at(u, range, &format!("/usage/instances/{}", u.id))
}

/// The four charts of one instance, under a heading linking to `href`.
pub fn instance_charts_at(u: &InstanceUsage, range: Range, href: &str) -> Markup {
    let (from, to) = crate::ops::usage_window(range);
    let pts = |f: fn(&crate::ops::Point) -> f64| {
        u.series.iter().map(|p| (p.ts, f(p))).collect::<Vec<_>>()
    };
    let mem_limit = format!("limit {}", bytes(u.memory_limit as f64));
    let cpu_limit = format!("plan {} cores", u.cpus);
    let quota = u
        .storage_quota
        .map(|q| format!("quota {}", bytes(q as f64)));
    let kills: u64 = u.series.iter().map(|p| p.oom_kills).sum();
    html! {
        h2 {
            a href=(href) { (u.client) " / " (u.name) }
            @if kills > 0 { " " span.badge { (kills) " OOM kills" } }
            @if u.storage_quota.is_some_and(|q| u.disk > q) { " " span.badge { "over storage quota" } }
        }
        div.charts {
            (chart(&Chart { title: "CPU (cores)", unit: Unit::Cores, from, to,
                series: vec![Series { label: "used", color: BLUE_, points: pts(|p| p.cpu), area: true }],
                limits: vec![Limit { label: &cpu_limit, value: u.cpus }] }))
            (chart(&Chart { title: "Memory", unit: Unit::Bytes, from, to,
                series: vec![Series { label: "average", color: BLUE_, points: pts(|p| p.mem), area: true },
                             Series { label: "peak", color: ORANGE, points: pts(|p| p.mem_max as f64), area: false }],
                limits: vec![Limit { label: &mem_limit, value: u.memory_limit as f64 }] }))
            (chart(&Chart { title: "Network", unit: Unit::BytesPerSec, from, to,
                series: vec![Series { label: "in", color: BLUE_, points: pts(|p| p.rx_rate), area: false },
                             Series { label: "out", color: GREEN_, points: pts(|p| p.tx_rate), area: false }],
                limits: vec![] }))
            (chart(&Chart { title: "Disk", unit: Unit::Bytes, from, to,
                series: vec![Series { label: "data dir", color: BLUE_, points: pts(|p| p.disk), area: true }],
                limits: quota.as_deref().map(|l| Limit { label: l, value: u.storage_quota.unwrap_or(0) as f64 }).into_iter().collect() }))
        }
    }
}

pub fn client_page(chrome: &Chrome, u: &ClientUsage) -> Markup {
    let body = html! {
        (ranges(&format!("/usage/clients/{}", u.client), u.range))
        @for w in &u.warnings {
            p.badge { "Instance " (w.instance) " uses " (bytes(w.used as f64)) " of its " (bytes(w.quota as f64)) " storage quota." }
        }
        @if let Some(llm) = &u.llm { (super::llm::spend_chart(llm, u.from, u.to)) }
        @for i in &u.instances { (instance_charts(i, u.range)) }
        @if u.instances.is_empty() { p { "No instances." } }
    };
    layout(&format!("Usage of {}", u.client), chrome, body)
}

pub fn instance_page(chrome: &Chrome, u: &InstanceUsage, range: Range) -> Markup {
    let body = html! {
        (ranges(&format!("/usage/instances/{}", u.id), range))
        (instance_charts(u, range))
    };
    layout(&format!("Usage of {} / {}", u.client, u.name), chrome, body)
}
