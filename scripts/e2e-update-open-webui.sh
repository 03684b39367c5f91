#!/usr/bin/env bash
# End-to-end check of issue 13 with the real tenant: two Open WebUI (PyPI
# 0.12.4) clients under `berth serve` run the README's way are updated to a
# new image in waves, an update that never becomes healthy is rolled back
# (image and data), and one instance is rolled back by hand:
#
#   v1 → v2 (canary, then the rest; a backup before each; chats kept; the
#   tenant's downtime measured through Caddy) → v3 never healthy: the canary
#   is rolled back to v2 with its data, the rollout halts, the other client
#   is untouched → `berth instance rollback` takes the other client back to
#   v1 and the data of the backup taken before its v2 update.
#
# v2 and v3 are the same app built FROM the local image (v2: a new image ID;
# v3: a command that never answers its health check), so no registry is
# needed. Not part of `cargo test` (the image is ~8 GB, each boot ~40-60 s):
#
#     cargo build --bin berth && scripts/e2e-update-open-webui.sh
#
# Prints one line per step with its duration, and exits non-zero at the first
# failed check. Leaves nothing behind (containers, images it tagged, data).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/scripts/e2e-common.sh"
API_PORT=${API_PORT:-7072}
HTTP_PORT=${HTTP_PORT:-8090}

e2e_workspace e2u
# The blueprint runs a repository of this run's own, so berth's clean-up of
# old images can never touch the shared image.
REPO_NAME=local/owui-$OWNER
BERTH_PID= PROBE_PID=
cleanup() {
    [ -n "$PROBE_PID" ] && kill "$PROBE_PID" 2>/dev/null || true
    [ -n "$BERTH_PID" ] && kill "$BERTH_PID" 2>/dev/null && wait "$BERTH_PID" 2>/dev/null || true
    e2e_remove_owned
    docker images -q "$REPO_NAME" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
}
trap cleanup EXIT

docker tag "$OWUI_IMAGE" "$REPO_NAME:v1"
printf 'FROM %s\nLABEL berth.e2e=v2\n' "$REPO_NAME:v1" | DOCKER_BUILDKIT=0 docker build -q -t "$REPO_NAME:v2" - >/dev/null
printf 'FROM %s\nLABEL berth.e2e=v3\nCMD ["sleep", "infinity"]\n' "$REPO_NAME:v1" |
    DOCKER_BUILDKIT=0 docker build -q -t "$REPO_NAME:v3" - >/dev/null
image_id() { docker image inspect -f '{{.Id}}' "$REPO_NAME:$1"; }
V1=$(image_id v1) V2=$(image_id v2) V3=$(image_id v3)
sed -i "s#^image = .*#image = \"$REPO_NAME:v1\"#" "$W/run/templates/open-webui.toml"
step "images v1 ${V1:7:12}, v2 ${V2:7:12}, v3 ${V3:7:12} (never healthy)"

export BERTH_LISTEN=127.0.0.1:$API_PORT BERTH_CADDY_HTTP_PORT=$HTTP_PORT BERTH_CADDY_HTTPS_PORT=$((HTTP_PORT + 400))
export BERTH_CADDY_ADMIN=http://127.0.0.1:$((API_PORT + 1000)) BERTH_PORT_RANGE=${BERTH_PORT_RANGE:-18200-18299}
export BERTH_UPDATES_HEALTH_TIMEOUT=${BERTH_UPDATES_HEALTH_TIMEOUT:-4m}
berth() { (cd "$W/run" && "$W/berth" "$@"); }
(cd "$W/run" && exec "$W/berth" serve) >"$W/berth.log" 2>&1 &
BERTH_PID=$!
DEADLINE=30 until_ok curl -fsS "http://127.0.0.1:$API_PORT/api/v1/health" || fail "berth did not answer"
step "berth serve up"

berth plan create chat --cpus 2 --memory 3GiB --max-instances 1 >/dev/null
for c in alpha beta; do
    berth client create "Upd $c" --email "ops@$c.example" --plan chat --blueprint open-webui >/dev/null
done
inst() { berth instance list --json | json "[i for i in d if i['client']=='upd-$1'][0]['$2']"; }
A=$(inst alpha id) B=$(inst beta id)
via() { curl -fsS -H "Host: upd-$1.localhost:$HTTP_PORT" "http://127.0.0.1:$HTTP_PORT$2" "${@:3}"; }
DEADLINE=300 until_ok via alpha /health || fail "alpha never healthy"
DEADLINE=300 until_ok via beta /health || fail "beta never healthy"
step "two clients on v1 healthy through Caddy (instances $A, $B)"

declare -A SESSION
signin() {
    local creds
    creds=$(berth --json instance admin-password "$2") || fail "reveal $1"
    SESSION[$1]=$(via "$1" /api/v1/auths/signin -H 'content-type: application/json' \
        -d "{\"email\":\"$(json "d['email']" <<<"$creds")\",\"password\":\"$(json "d['password']" <<<"$creds")\"}" |
        json "d['token']") || fail "sign-in $1"
}
chat() {
    via "$1" /api/v1/chats/new -H "Authorization: Bearer ${SESSION[$1]}" -H 'content-type: application/json' \
        -d "{\"chat\":{\"title\":\"$2\",\"messages\":[]}}" >/dev/null || fail "chat $2 on $1"
}
titles() { via "$1" /api/v1/chats/ -H "Authorization: Bearer ${SESSION[$1]}" | json "' '.join(c['title'] for c in d)"; }
signin alpha "$A"; signin beta "$B"
chat alpha a-v1; chat beta b-v1
step "admins signed in; chats a-v1, b-v1 written"

# The tenant's downtime as a visitor sees it: /health through Caddy every 0.2 s.
probe() { while :; do printf '%s %s\n' "$(date +%s.%N)" \
    "$(curl -s -o /dev/null -m 2 -w '%{http_code}' -H "Host: upd-$1.localhost:$HTTP_PORT" "http://127.0.0.1:$HTTP_PORT/health")"; sleep 0.2; done; }
probe alpha >"$W/probe-alpha" &
PROBE_PID=$!
backups() { berth backup list "$1" --json | json "len(d)"; }
BA=$(backups "$A") BB=$(backups "$B")
berth update apply --blueprint open-webui --tag v2 --wave 1,all --wait >"$W/rollout1" 2>&1 ||
    fail "v2 rollout: $(tail -5 "$W/rollout1")"
kill "$PROBE_PID"; PROBE_PID=
step "rollout v1 → v2 (waves 1,all) done"
[ "$(inst alpha image_id)" = "$V2" ] && [ "$(inst beta image_id)" = "$V2" ] || fail "not both on v2"
[ "$(backups "$A")" -gt "$BA" ] && [ "$(backups "$B")" -gt "$BB" ] || fail "no backup before the update"
DEADLINE=120 until_ok via alpha /health || fail "alpha not healthy on v2"
DEADLINE=120 until_ok via beta /health || fail "beta not healthy on v2"
titles alpha | grep -q a-v1 && titles beta | grep -q b-v1 || fail "chats lost by the update"
DOWN=$(python3 - "$W/probe-alpha" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 2]
last_ok = first_bad = None
for t, code in rows:
    t = float(t)
    if code == "200" and first_bad is None: last_ok = t
    elif code != "200" and first_bad is None: first_bad = t
    elif code == "200" and first_bad is not None:
        print(f"{t - last_ok:.1f}"); break
else:
    print("none")
PY
)
step "both on v2 with a backup each, sessions and chats kept; alpha down ${DOWN} s"

chat alpha a-v2; chat beta b-v2
BETA_CONTAINER=$(docker ps -q --filter "label=berth.managed=$OWNER" --filter "label=berth.instance=$B")
berth update apply --blueprint open-webui --tag v3 --wave 1,all --wait >"$W/rollout2" 2>&1 &&
    fail "the v3 rollout reported success"
ROLLOUT=$(berth update status --json | json "d[0]['id']")
STATUS=$(berth update status "$ROLLOUT" --json | json "d['status']")
[ "$STATUS" = halted ] || [ "$STATUS" = failed ] || fail "v3 rollout is $STATUS"
step "rollout v2 → v3: canary failed health, rollout $STATUS"
DEADLINE=300 until_ok via alpha /health || fail "alpha not healthy after its rollback"
[ "$(inst alpha image_id)" = "$V2" ] || fail "alpha not back on v2: $(inst alpha image_id)"
titles alpha | grep -q a-v2 || fail "alpha lost its pre-update data: $(titles alpha)"
[ "$(docker ps -q --filter "label=berth.managed=$OWNER" --filter "label=berth.instance=$B")" = "$BETA_CONTAINER" ] ||
    fail "beta was touched"
[ "$(inst beta image_id)" = "$V2" ] || fail "beta not on v2"
step "alpha rolled back to v2 with its data (a-v2 kept); beta untouched"

chat beta b-after
berth instance rollback "$B" >/dev/null || fail "manual rollback refused"
back_on_v1() { [ "$(inst beta image_id)" = "$V1" ] && via beta /health; }
DEADLINE=300 until_ok back_on_v1 || fail "beta not back on v1"
T=$(titles beta)
grep -q b-v1 <<<"$T" || fail "beta lost b-v1: $T"
grep -q b-v2 <<<"$T" && fail "beta kept b-v2 written after the v2 update's backup: $T"
step "beta rolled back by hand: v1 and the data before its v2 update"

for c in alpha beta; do berth client delete "upd-$c" --confirm "upd-$c" >/dev/null || fail "delete $c"; done
echo "OK: updates, automatic and manual rollback with Open WebUI end to end (downtime on v2: ${DOWN} s)"
