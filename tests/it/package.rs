//! The .deb as a provider installs it: built from this checkout (around the
//! test's debug binary, so CI needs no release build), installed with apt
//! into a fresh Debian made by debootstrap and `docker import` (no registry
//! is reachable), then checked against what packaging/README.md promises.
//!
//! The package's dependencies (caddy, adduser) and its recommends come from
//! the Debian mirror apt already uses, fetched by debootstrap on the host
//! into a cache under target/, so the container needs no network and a
//! second run downloads nothing. The Docker engine is the one dependency
//! met by a stand-in (see `engine_stand_in`). Inside, apt resolves the
//! local .deb against them like on a real host.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::harness::{skip_docker, unique, DockerGuard};

/// What the rootfs holds besides minbase: the package's dependencies and
/// recommends except the engine (see [`engine_stand_in`]), and systemd for
/// `systemd-analyze verify`.
const INCLUDE: &str = "adduser,caddy,busybox-static,zstd,systemd";

/// The capabilities berth.service must grant (packaging/README.md explains each).
const UNIT_CAPS: &str = "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER";

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("command starts");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Debian mirror apt uses on this host (the first URI ending in /debian).
fn mirror() -> String {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter(|w| w.starts_with("http") && w.trim_end_matches('/').ends_with("/debian"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .next()
        .unwrap_or_else(|| "http://deb.debian.org/debian".into())
}

/// This host's Debian codename: the binary links its glibc.
fn codename() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("VERSION_CODENAME in /etc/os-release")
}

/// The package around the test's debug binary, stripped of its debug info
/// first (150 MB to 45 MB: compressing the rest would take a minute).
fn build_deb(work: &Path, out: &Path) -> PathBuf {
    let bin = work.join("berth");
    run(Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&bin)
        .arg(env!("CARGO_BIN_EXE_berth")));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    run(Command::new("bash")
        .arg(root.join("packaging/build-deb.sh"))
        .env("BERTH_BIN", &bin)
        .env("BERTH_DEB_OUT", out)
        .env("BERTH_DEB_COMPRESSION", "gzip"));
    let debs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "{debs:?}");
    debs[0].clone()
}

/// An empty package named `docker-ce`, the alternative to docker.io that
/// berth's Depends allows. No engine can run inside the test's container
/// anyway, and docker.io with containerd, runc and iptables would triple
/// the rootfs (and the minutes to build and import it). It creates no
/// group docker, so berth's postinst must.
fn engine_stand_in(out: &Path) -> PathBuf {
    let stage = out.join("docker-ce");
    std::fs::create_dir_all(stage.join("DEBIAN")).unwrap();
    std::fs::write(
        stage.join("DEBIAN/control"),
        "Package: docker-ce\nVersion: 0.0~berth.test\nArchitecture: all\n\
         Maintainer: berth tests <berth@localhost>\n\
         Description: stand-in for the Docker engine in berth's package test\n",
    )
    .unwrap();
    let deb = out.join("docker-ce_0.0~berth.test_all.deb");
    run(Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&stage)
        .arg(&deb));
    std::fs::remove_dir_all(&stage).unwrap();
    deb
}

/// A minbase Debian with `INCLUDE`, imported as image `tag`.
fn debian_image(work: &Path, tag: &str) {
    let rootfs = work.join("rootfs");
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("debootstrap-cache");
    std::fs::create_dir_all(&cache).unwrap();
    run(Command::new("debootstrap")
        .arg("--variant=minbase")
        .arg(format!("--include={INCLUDE}"))
        .arg(format!("--cache-dir={}", cache.display()))
        .arg(codename())
        .arg(&rootfs)
        .arg(mirror()));
    let mut tar = Command::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(&rootfs)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .expect("tar");
    run(Command::new("docker")
        .args([
            "import",
            "--change",
            "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "-",
            tag,
        ])
        .stdin(tar.stdout.take().unwrap()));
    assert!(tar.wait().unwrap().success(), "tar of the rootfs");
}

/// `sh -c script` in the container: (exit code, stdout + stderr).
fn exec(container: &str, script: &str) -> (i32, String) {
    let out = Command::new("docker")
        .args(["exec", container, "sh", "-c", script])
        .stdin(Stdio::null())
        .output()
        .expect("docker exec");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn exec_ok(container: &str, script: &str) -> String {
    let (code, out) = exec(container, script);
    assert_eq!(code, 0, "{script}:\n{out}");
    out
}

/// The paths packaging/README.md's "Where things live" table gives for `what`.
fn readme_paths(what: &str) -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/README.md"))
            .unwrap();
    let row = readme
        .lines()
        .find(|l| l.starts_with(&format!("| {what} |")))
        .unwrap_or_else(|| panic!("no '{what}' row in packaging/README.md"));
    let dir = row
        .split('`')
        .skip(1)
        .step_by(2)
        .next()
        .map(|first| {
            Path::new(first)
                .parent()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .unwrap();
    // "`/lib/systemd/system/berth.service`, `berth-backup.service`": later
    // names in a row are beside the first one.
    row.split('`')
        .skip(1)
        .step_by(2)
        .filter(|p| !p.contains('*'))
        .map(|p| {
            if p.starts_with('/') {
                p.to_owned()
            } else {
                format!("{dir}/{p}")
            }
        })
        .collect()
}

#[test]
fn the_deb_installs_into_a_fresh_debian_and_runs_as_user_berth() {
    if skip_docker() {
        return;
    }
    assert!(unsafe { libc::geteuid() } == 0, "debootstrap needs root");
    let work = tempfile::Builder::new()
        .prefix("berth-deb-")
        .tempdir()
        .unwrap();
    let owner = unique("deb");
    let guard = DockerGuard::new(&owner);
    let tag = format!("berth-test/debian:{}", unique("img"));
    guard.track_image(&tag);

    let started = std::time::Instant::now();
    let debs = work.path().join("debs");
    let deb = build_deb(work.path(), &debs);
    let engine = engine_stand_in(&debs);
    eprintln!("package: .deb built after {:?}", started.elapsed());
    debian_image(work.path(), &tag);
    eprintln!(
        "package: Debian image imported after {:?}",
        started.elapsed()
    );
    let name = unique("debian");
    run(Command::new("docker")
        .args(["run", "-d", "--network", "none", "--name", &name])
        .arg(format!("--label=berth.managed={owner}"))
        .arg(format!("--volume={}:/debs:ro", debs.display()))
        .args([&tag, "sleep", "infinity"]));

    // apt resolves the local package against what is installed; no network.
    let file = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    exec_ok(
        &name,
        &format!(
            "DEBIAN_FRONTEND=noninteractive apt-get install -y /debs/{} /debs/{}",
            file(&engine),
            file(&deb)
        ),
    );
    eprintln!("package: installed after {:?}", started.elapsed());
    assert_eq!(
        exec_ok(&name, "dpkg-query -W -f='${Status}' berth"),
        "install ok installed"
    );

    // The service user: system user and group berth, in group docker.
    exec_ok(&name, "getent group berth");
    let groups = exec_ok(&name, "id -nG berth");
    let groups: Vec<&str> = groups.split_whitespace().collect();
    assert!(
        groups.contains(&"berth") && groups.contains(&"docker"),
        "{groups:?}"
    );

    // Config and units where the README says, the config private to berth.
    for path in readme_paths("Config")
        .into_iter()
        .filter(|p| p.ends_with(".toml"))
    {
        assert_eq!(
            exec_ok(&name, &format!("stat -c '%U:%G %a' {path}")).trim(),
            "root:berth 640",
            "{path}"
        );
    }
    let units = readme_paths("Units");
    assert_eq!(units.len(), 3, "{units:?}");
    for unit in &units {
        exec_ok(&name, &format!("test -f {unit}"));
    }
    let service = units
        .iter()
        .find(|u| u.ends_with("/berth.service"))
        .unwrap();
    let text = exec_ok(&name, &format!("cat {service}"));
    assert!(text.contains("\nUser=berth\n"), "{text}");
    for key in ["AmbientCapabilities", "CapabilityBoundingSet"] {
        assert!(
            text.contains(&format!("\n{key}={UNIT_CAPS}\n")),
            "{key} in {service}"
        );
    }
    let timer_unit = units
        .iter()
        .find(|u| u.ends_with("/berth-backup.service"))
        .unwrap();
    let text = exec_ok(&name, &format!("cat {timer_unit}"));
    assert!(
        text.contains("\nAmbientCapabilities=CAP_DAC_READ_SEARCH\n"),
        "{timer_unit}: a backup only reads"
    );
    let verify = exec_ok(
        &name,
        &format!("systemd-analyze verify {} 2>&1", units.join(" ")),
    );
    assert!(
        !verify.contains("berth"),
        "systemd-analyze verify complains:\n{verify}"
    );

    // berth doctor as user berth reads the installed config and finds its
    // directories writable; there is no engine in the container to find.
    let (code, out) = exec(
        &name,
        "runuser -u berth -- berth doctor --config /etc/berth/config.toml",
    );
    for line in ["ok    data dir", "ok    backup dir", "ok    blueprints"] {
        assert!(out.contains(line), "{line:?} missing (exit {code}):\n{out}");
    }
    assert!(out.contains("FAIL  docker"), "{out}");
    assert_eq!(code, 1, "{out}");
    assert_eq!(exec_ok(&name, "runuser -u berth -- id -un").trim(), "berth");
}
