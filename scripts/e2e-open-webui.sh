#!/usr/bin/env bash
# End-to-end check with the real tenant: Open WebUI (PyPI 0.12.4, built locally
# by ../shared/tools/open-webui-image.sh or any image given as OWUI_IMAGE) under
# `berth serve` run the README's way: a fresh directory as the working
# directory, no config file, relative defaults, the managed Caddy.
#
# With AS_SERVICE_USER=1 the daemon runs as the packaged unit runs it: a
# non-root uid in group docker with only the unit's ambient capabilities.
#
# Not part of `cargo test` (the image is ~8 GB and the app boots in ~40 s);
# run it by hand after changes to blueprints, backups, restore or privileges:
#
#     cargo build && scripts/e2e-open-webui.sh            # as root
#     AS_SERVICE_USER=1 scripts/e2e-open-webui.sh         # as the service user
#
# Prints one line per step with its duration, and exits non-zero at the first
# failed check. Leaves nothing behind (containers, data, the temp dir).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/scripts/e2e-common.sh"
API_PORT=${API_PORT:-7070}
HTTP_PORT=${HTTP_PORT:-8088}
SLUG=e2e-open-webui
PW='correct horse battery staple'

e2e_workspace e2e
BERTH_PID=
cleanup() {
    # berth runs under a subshell (and setpriv): stop it by its path.
    pkill -f "^$W/berth serve" 2>/dev/null || true
    [ -n "$BERTH_PID" ] && wait "$BERTH_PID" 2>/dev/null || true
    e2e_remove_owned
}
trap cleanup EXIT

berth() { (cd "$W/run" && run_as "$W/berth" "$@"); }
[ "$AS_SERVICE_USER" = 1 ] && chown -R "$SERVICE_UID:$SERVICE_UID" "$W/run"

(cd "$W/run" && run_as "$W/berth" serve) >"$W/berth.log" 2>&1 &
BERTH_PID=$!
DEADLINE=30 until_ok curl -fsS "http://127.0.0.1:$API_PORT/api/v1/health" || fail "berth did not answer"
step "berth serve up (relative defaults, managed Caddy)"

TOKEN=$(berth token create e2e | tail -1)
berth plan create chat --cpus 2 --memory 3GiB --max-instances 3 >/dev/null
berth client create "E2E Open WebUI" --email ops@e2e.example --plan chat --blueprint open-webui >/dev/null
ID=$(berth instance list --json | json "[i for i in d if i['client']=='$SLUG'][0]['id']")
step "client created (instance $ID)"

via_caddy() { curl -fsS -H "Host: $SLUG.localhost:$HTTP_PORT" "http://127.0.0.1:$HTTP_PORT$1" "${@:2}"; }
DEADLINE=240 until_ok via_caddy /health || fail "Open WebUI never healthy through Caddy"
step "first /health 200 through Caddy"

CONTAINER=$(docker ps -q --filter "label=berth.managed=$OWNER" --filter "label=berth.instance=$ID")
URL=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$CONTAINER" | sed -n 's/^WEBUI_URL=//p')
[ "$URL" = "http://$SLUG.localhost:$HTTP_PORT" ] || fail "WEBUI_URL is '$URL'"
step "WEBUI_URL is the instance's real URL ($URL)"

# The admin is made by the app at its first start (blueprint [admin]); the
# first visitor cannot sign up and claim the instance.
CREDS=$(berth --json instance admin-password "$ID") || fail "admin password"
ADMIN_EMAIL=$(json "d['email']" <<<"$CREDS")
ADMIN_PW=$(json "d['password']" <<<"$CREDS")
SIGNUP=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $SLUG.localhost:$HTTP_PORT" \
    "http://127.0.0.1:$HTTP_PORT/api/v1/auths/signup" -H 'content-type: application/json' \
    -d "{\"name\":\"Owner\",\"email\":\"owner@e2e.example\",\"password\":\"$PW\"}")
[ "$SIGNUP" = 403 ] || fail "signup answered $SIGNUP"
SESSION=$(via_caddy /api/v1/auths/signin -H 'content-type: application/json' \
    -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PW\"}" | json "d['token']") ||
    fail "the pre-created admin cannot sign in"
new_chat() {
    via_caddy /api/v1/chats/new -H "Authorization: Bearer $SESSION" -H 'content-type: application/json' \
        -d "{\"chat\":{\"title\":\"$1\",\"messages\":[]}}" | json "d['id']"
}
chat_titles() { via_caddy /api/v1/chats/ -H "Authorization: Bearer $SESSION" | json d ; }
new_chat before-backup >/dev/null || fail "create chat"
step "signup refused; pre-created admin signed in, chat 'before-backup' written"

berth backup run --instance "$ID" >/dev/null || fail "backup run"
BACKUP=$(berth backup list "$ID" --json | json "d[0]['id']")
berth backup verify "$BACKUP" >/dev/null || fail "backup verify"
step "backup $BACKUP taken and verified"

new_chat after-backup >/dev/null
berth backup restore "$BACKUP" >/dev/null || fail "restore"
DEADLINE=240 until_ok via_caddy /health || fail "not healthy after restore"
TITLES=$(chat_titles) || fail "session lost after restore"
grep -q before-backup <<<"$TITLES" || fail "restore lost the chat before the backup: $TITLES"
grep -q after-backup <<<"$TITLES" && fail "restore kept the chat written after the backup"
step "restored in place: before-backup kept, after-backup gone"

berth plan edit chat --memory 4GiB >/dev/null || fail "plan edit"
DEADLINE=120 until_ok sh -c "docker inspect -f '{{.HostConfig.Memory}}' \$(docker ps -q --filter label=berth.managed=$OWNER --filter label=berth.instance=$ID) | grep -qx 4294967296"
DEADLINE=240 until_ok via_caddy /health || fail "not healthy after plan change"
chat_titles >/dev/null || fail "plan change logged the admin out (secret key not kept)"
step "plan change recreated with 4 GiB, session kept"

berth backup restore "$BACKUP" --into copy >/dev/null || fail "clone"
step "cloned into a new instance"

berth client delete "$SLUG" --confirm "$SLUG" >/dev/null || fail "delete"
DEADLINE=60 until_ok sh -c "[ -z \"\$(docker ps -aq --filter label=berth.managed=$OWNER)\" ]" || fail "containers left"
[ -z "$(find "$W/run/berth-data" -path '*/instances/*' -mindepth 1 2>/dev/null | head -1)" ] ||
    fail "data left: $(find "$W/run/berth-data" -path '*/instances/*' | head -3)"
step "client deleted: no container, no data"

echo "OK: Open WebUI end to end$([ "$AS_SERVICE_USER" = 1 ] && echo " as uid $SERVICE_UID with caps: $UNIT_CAPS")"
