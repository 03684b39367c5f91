#!/usr/bin/env bash
# Disaster recovery with the real tenant: Open WebUI (PyPI 0.12.4, built by
# ../shared/tools/open-webui-image.sh) under `berth serve` run the README's
# way (a fresh directory, relative defaults, the managed Caddy) with one
# `[[offsite]]` target: a restic REST repository (`rclone serve restic` on
# loopback). The host is then "lost" (berth stopped, its data dir, backups
# and containers removed) and rebuilt with `berth recover --from box`; the
# admin signs in with the password from before the loss and finds the chat
# written before it.
#
#     cargo build && scripts/e2e-recover-open-webui.sh        # as root
#     AS_SERVICE_USER=1 scripts/e2e-recover-open-webui.sh     # as the packaged unit's user
#
# Prints one line per step with its duration; exits non-zero at the first
# failed check; leaves nothing behind.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/scripts/e2e-common.sh"
command -v rclone >/dev/null && command -v restic >/dev/null ||
    { echo "needs rclone and restic (bash .ci/run installs them)" >&2; exit 2; }
export BERTH_LISTEN=127.0.0.1:${API_PORT:-7072}
HTTP_PORT=${HTTP_PORT:-8090}
export BERTH_CADDY_HTTP_PORT=$HTTP_PORT BERTH_CADDY_HTTPS_PORT=$((HTTP_PORT + 400))
export BERTH_CADDY_ADMIN=http://127.0.0.1:$((HTTP_PORT + 1000))
export BERTH_PORT_RANGE=${BERTH_PORT_RANGE:-18200-18299}
SLUG=e2e-recover
API=http://$BERTH_LISTEN

e2e_workspace e2r
BERTH_PID= RCLONE_PID=
stop_berth() {
    # berth runs under a subshell (and setpriv): stop it by its path.
    pkill -f "^$W/berth serve" 2>/dev/null || true
    [ -n "$BERTH_PID" ] && wait "$BERTH_PID" 2>/dev/null || true
    BERTH_PID=
}
cleanup() {
    stop_berth
    [ -n "$RCLONE_PID" ] && kill "$RCLONE_PID" 2>/dev/null && wait "$RCLONE_PID" 2>/dev/null || true
    e2e_remove_owned
}
trap cleanup EXIT

# The storage box: off this "host", so it survives the loss.
mkdir -p "$W/box"
RCLONE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RCLONE_CONFIG=$W/box/rclone.conf rclone serve restic --addr "127.0.0.1:$RCLONE_PORT" "$W/box/repo" \
    >"$W/box/rclone.log" 2>&1 &
RCLONE_PID=$!
DEADLINE=10 until_ok grep -q "Serving restic REST API" "$W/box/rclone.log" || fail "rclone did not serve"
echo "e2e recover repository password" >"$W/run/box.password"
chmod 0600 "$W/run/box.password"
cat >"$W/run/berth.toml" <<TOML
[[offsite]]
name = "box"
repository = "rest:http://127.0.0.1:$RCLONE_PORT/"
password_file = "box.password"
TOML
[ "$AS_SERVICE_USER" = 1 ] && chown -R "$SERVICE_UID:$SERVICE_UID" "$W/run"
berth() { (cd "$W/run" && run_as "$W/berth" --config berth.toml "$@"); }
serve() {
    (cd "$W/run" && run_as "$W/berth" serve --config berth.toml) >>"$W/berth.log" 2>&1 &
    BERTH_PID=$!
    DEADLINE=30 until_ok curl -fsS "$API/api/v1/health" || fail "berth did not answer"
}
serve
step "berth serve up (relative defaults, managed Caddy, offsite target 'box')"

berth plan create chat --cpus 2 --memory 3GiB --max-instances 3 >/dev/null
berth client create "E2E Recover" --email ops@e2e-recover.example --plan chat --blueprint open-webui >/dev/null
ID=$(berth instance list --json | json "[i for i in d if i['client']=='$SLUG'][0]['id']")
via_caddy() { curl -fsS -H "Host: $SLUG.localhost:$HTTP_PORT" "http://127.0.0.1:$HTTP_PORT$1" "${@:2}"; }
DEADLINE=240 until_ok via_caddy /health || fail "Open WebUI never healthy through Caddy"
CREDS=$(berth --json instance admin-password "$ID") || fail "admin password"
ADMIN_EMAIL=$(json "d['email']" <<<"$CREDS")
ADMIN_PW=$(json "d['password']" <<<"$CREDS")
signin() {
    via_caddy /api/v1/auths/signin -H 'content-type: application/json' \
        -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PW\"}" | json "d['token']"
}
SESSION=$(signin) || fail "the pre-created admin cannot sign in"
via_caddy /api/v1/chats/new -H "Authorization: Bearer $SESSION" -H 'content-type: application/json' \
    -d '{"chat":{"title":"before-disaster","messages":[]}}' >/dev/null || fail "create chat"
step "client on Open WebUI (instance $ID); admin signed in, chat 'before-disaster' written"

berth offsite init box >/dev/null || fail "offsite init"
berth backup run --instance "$ID" >/dev/null || fail "backup run"
berth offsite copy box --instance "$ID" >/dev/null || fail "instance copy"
berth offsite copy box --state >/dev/null || fail "state copy"
berth --json offsite snapshots box | json "len(d)" | grep -qv '^0$' || fail "no snapshots"
step "backed up, instance and berth's state copied to 'box'"

stop_berth
docker ps -aq --filter "label=berth.managed=$OWNER" | xargs -r docker rm -f >/dev/null
docker network ls -q --filter "label=berth.managed=$OWNER" | xargs -r docker network rm >/dev/null
rm -rf "$W/run/berth-data"
via_caddy /health >/dev/null 2>&1 && fail "still answering after the loss"
step "host lost: berth stopped, data dir, backups, containers and networks removed"

berth recover --from box >"$W/recover.log" 2>&1 || { cat "$W/recover.log" >&2; fail "recover failed"; }
sed 's/^/    /' "$W/recover.log" | tail -n 12
step "berth recover --from box (exit 0)"

serve
DEADLINE=240 until_ok via_caddy /health || fail "not healthy after recovery"
SESSION=$(signin) || fail "the admin's password from before the loss no longer signs in"
TITLES=$(via_caddy /api/v1/chats/ -H "Authorization: Bearer $SESSION" | json d) || fail "chats"
grep -q before-disaster <<<"$TITLES" || fail "the chat from before the loss is gone: $TITLES"
step "berth serve again: same URL, same admin password, chat 'before-disaster' back"

echo "OK: disaster recovery of Open WebUI$([ "$AS_SERVICE_USER" = 1 ] && echo " as uid $SERVICE_UID with caps: $UNIT_CAPS")"
