#!/usr/bin/env bash
# Builds target/debian/berth_<version>_<arch>.deb from this checkout.
#
#   packaging/build-deb.sh                      cargo build --release --locked, then package
#   BERTH_BIN=/path/to/berth packaging/build-deb.sh   package that binary, no cargo build
#   BERTH_DEB_MAINTAINER="Name <mail>"          Maintainer field and changelog signature
#   BERTH_DEB_OUT=/some/dir                     where to build (default target/debian)
#   BERTH_DEB_COMPRESSION=gzip|xz|zstd|none     dpkg-deb -Z (default: dpkg-deb's, xz);
#                                               the test suite packs its unstripped
#                                               debug binary with gzip to stay quick
#
# Needs dpkg-deb (dpkg) and, for the libc dependency, objdump (binutils).
# Runs lintian when it is installed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

warn() { printf 'build-deb: warning: %s\n' "$*" >&2; }
die() { printf 'build-deb: %s\n' "$*" >&2; exit 1; }

command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg-dev)"

# The first `version = "..."` inside [package].
version=$(awk '
    /^\[/ { in_pkg = ($0 == "[package]") }
    in_pkg && /^version[[:space:]]*=/ { gsub(/.*=[[:space:]]*"|".*/, ""); print; exit }
' Cargo.toml)
[ -n "$version" ] || die "no version in [package] of Cargo.toml"
arch=$(dpkg --print-architecture)
# Set a real address for packages that leave this machine (lintian flags
# the placeholder).
maintainer=${BERTH_DEB_MAINTAINER:-berth maintainers <berth@localhost>}

if [ -n "${BERTH_BIN:-}" ]; then
    bin=$BERTH_BIN
    warn "packaging $bin instead of a fresh release build"
else
    cargo build --release --locked --bin berth
    bin=target/release/berth
fi
[ -x "$bin" ] || die "$bin is not an executable"

out=${BERTH_DEB_OUT:-target/debian}
stage=$out/berth_${version}_${arch}
deb=$out/berth_${version}_${arch}.deb
rm -rf "$stage"
mkdir -p "$stage/DEBIAN"

install -D -m 0755 "$bin" "$stage/usr/bin/berth"
if [ -z "${BERTH_BIN:-}" ] && command -v strip >/dev/null; then
    strip --strip-unneeded "$stage/usr/bin/berth"
fi

for unit in berth.service berth-backup.service berth-backup.timer; do
    install -D -m 0644 "systemd/$unit" "$stage/lib/systemd/system/$unit"
done

install -d -m 0755 "$stage/usr/share/berth/templates"
shopt -s nullglob
templates=(templates/*.toml)
shopt -u nullglob
if [ ${#templates[@]} -gt 0 ]; then
    install -m 0644 "${templates[@]}" "$stage/usr/share/berth/templates/"
else
    warn "no templates/*.toml: the package ships no app blueprints"
fi

# The example config the binary carries becomes the installed config. A
# binary without `config example` (a stand-in while developing) ships none.
conffiles=()
install -d -m 0755 "$stage/etc/berth"
example=$(mktemp)
trap 'rm -f "$example"' EXIT
if "$bin" config example >"$example" 2>/dev/null && [ -s "$example" ]; then
    install -D -m 0640 "$example" "$stage/etc/berth/config.toml"
    conffiles+=(/etc/berth/config.toml)
else
    warn "'$bin config example' printed nothing: the package ships no /etc/berth/config.toml"
fi

doc=$stage/usr/share/doc/berth
install -d -m 0755 "$doc"
if [ -f README.md ]; then
    install -m 0644 README.md "$doc/README.md"
else
    warn "no README.md at the top of the repository"
fi
install -m 0644 packaging/README.md "$doc/README.Debian"
license=$(awk -F'"' '/^license[[:space:]]*=/ { print $2; exit }' Cargo.toml)
cat >"$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: berth

Files: *
Copyright: berth contributors
License: ${license:-see the source repository}
COPYRIGHT
chmod 0644 "$doc/copyright"
# A native package: its changelog is changelog.gz.
printf 'berth (%s) unstable; urgency=medium\n\n  * Package built from the berth repository.\n\n -- %s  %s\n' \
    "$version" "$maintainer" "$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")" \
    | gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# libc is the one shared library a Rust binary links here (SQLite and zstd
# are bundled); require at least the newest GLIBC symbol version it uses.
libc_depends=""
if command -v objdump >/dev/null; then
    glibc=$(objdump -T "$stage/usr/bin/berth" 2>/dev/null \
        | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1 || true)
    [ -n "$glibc" ] && libc_depends=", libc6 (>= $glibc)"
else
    warn "objdump not found: no libc6 version in Depends"
fi

installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s|@MAINTAINER@|$maintainer|" \
    -e "s/@INSTALLED_SIZE@/$installed_size/" -e "s/@LIBC_DEPENDS@/$libc_depends/" \
    packaging/debian/control >"$stage/DEBIAN/control"
for script in postinst prerm postrm; do
    install -m 0755 "packaging/debian/$script" "$stage/DEBIAN/$script"
done
if [ ${#conffiles[@]} -gt 0 ]; then
    printf '%s\n' "${conffiles[@]}" >"$stage/DEBIAN/conffiles"
    chmod 0644 "$stage/DEBIAN/conffiles"
fi

compression=()
[ -n "${BERTH_DEB_COMPRESSION:-}" ] && compression=(-Z"$BERTH_DEB_COMPRESSION")
dpkg-deb --build --root-owner-group "${compression[@]}" "$stage" "$deb"
echo "built $deb"
dpkg-deb --info "$deb"
dpkg-deb --contents "$deb"

if command -v lintian >/dev/null; then
    # Advisory, never fatal. Expected tags: maintainer-script-calls-systemctl
    # (plain shell instead of deb-systemd-helper, by design), 0640 on
    # config.toml (it may hold secrets), no-manual-page, and bogus-mail-host
    # unless BERTH_DEB_MAINTAINER is set.
    lintian --tag-display-limit 0 "$deb" || true
fi
