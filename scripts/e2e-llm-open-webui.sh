#!/usr/bin/env bash
# End-to-end check of issue 12 with the real tenant: Open WebUI (PyPI 0.12.4,
# built locally by ../shared/tools/open-webui-image.sh, or OWUI_IMAGE) under
# `berth serve`, with the tests' fake OpenRouter (examples/llm_fake.rs) as
# the key provider and the instance's model server:
#
#   client on an LLM plan → key made → instance starts with it injected →
#   the pre-created admin (password revealed once) signs in → its models are
#   the fake's, fetched with the client's key → sign-up is refused → rotate →
#   the instance is recreated and calls with the new key → the old key is
#   deleted at the provider → the admin password left the env → no key or
#   password in berth's log, API answers or audit log.
#
# Not part of `cargo test` (the image is ~8 GB and the app boots in ~40 s):
#
#     cargo build --bin berth --example llm_fake && scripts/e2e-llm-open-webui.sh
#
# Prints one line per step with its duration, and exits non-zero at the first
# failed check. Leaves nothing behind (containers, data, the temp dir).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FAKE_BIN=${FAKE_BIN:-$REPO/target/debug/examples/llm_fake}
. "$REPO/scripts/e2e-common.sh"
API_PORT=${API_PORT:-7071}
HTTP_PORT=${HTTP_PORT:-8089}
SLUG=e2e-llm
EMAIL=ops@e2e-llm.example
[ -x "$FAKE_BIN" ] || { echo "build first: cargo build --example llm_fake" >&2; exit 2; }

e2e_workspace e2l
BERTH_PID= FAKE_PID=
cleanup() {
    [ -n "$BERTH_PID" ] && kill "$BERTH_PID" 2>/dev/null && wait "$BERTH_PID" 2>/dev/null || true
    [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null && wait "$FAKE_PID" 2>/dev/null || true
    e2e_remove_owned
}
trap cleanup EXIT

# The fake on every address; containers reach it through the docker bridge's gateway.
"$FAKE_BIN" 0.0.0.0:0 >"$W/fake.json" 2>"$W/fake.log" &
FAKE_PID=$!
DEADLINE=10 until_ok test -s "$W/fake.json" || fail "fake did not start"
FAKE_PORT=$(json "d['addr'].rsplit(':',1)[1]" <"$W/fake.json")
MGMT=$(json "d['management_key']" <"$W/fake.json")
# docker0's address (the bridge's IPAM often names no gateway).
GW=${GW:-$(ip -4 -o addr show docker0 | awk '{print $4}' | cut -d/ -f1)}
[ -n "$GW" ] || fail "no docker0 address: set GW"
fake() { curl -fsS "http://127.0.0.1:$FAKE_PORT$1"; }
step "fake OpenRouter on :$FAKE_PORT (containers: http://$GW:$FAKE_PORT)"

export BERTH_LISTEN=127.0.0.1:$API_PORT BERTH_CADDY_HTTP_PORT=$HTTP_PORT BERTH_CADDY_HTTPS_PORT=$((HTTP_PORT + 400))
export BERTH_CADDY_ADMIN=http://127.0.0.1:$((API_PORT + 1000))
export BERTH_LLM_PROVIDER=openrouter BERTH_LLM_BASE_URL=http://127.0.0.1:$FAKE_PORT/api
export BERTH_LLM_INFERENCE_URL=http://$GW:$FAKE_PORT/api/v1 BERTH_LLM_MANAGEMENT_KEY=$MGMT
export BERTH_PORT_RANGE=${BERTH_PORT_RANGE:-18100-18199}
berth() { (cd "$W/run" && "$W/berth" "$@"); }
(cd "$W/run" && exec "$W/berth" serve) >"$W/berth.log" 2>&1 &
BERTH_PID=$!
DEADLINE=30 until_ok curl -fsS "http://127.0.0.1:$API_PORT/api/v1/health" || fail "berth did not answer"
TOKEN=$(berth token create e2e | tail -1)
api() { curl -sS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT$@"; }
step "berth serve up, [llm] provider = the fake"

berth plan create chat --cpus 2 --memory 3GiB --max-instances 2 >/dev/null
berth llm plan chat --on --limit-usd 20 --reset monthly >/dev/null
berth client create "E2E LLM" --email "$EMAIL" --plan chat --blueprint open-webui >/dev/null
ID=$(berth instance list --json | json "[i for i in d if i['client']=='$SLUG'][0]['id']")
key_active() { berth --json llm status "$SLUG" | grep -q '"status": *"active"'; }
DEADLINE=30 until_ok key_active || fail "no key made: $(berth --json llm status "$SLUG")"
KEY1=$(fake /_fake/keys | json "[k['key'] for k in d][0]")
step "client on an LLM plan: instance $ID, key ${KEY1:0:14}... made"

CREDS=$(berth --json instance admin-password "$ID") || fail "reveal"
ADMIN_EMAIL=$(json "d['email']" <<<"$CREDS")
ADMIN_PW=$(json "d['password']" <<<"$CREDS")
[ "$ADMIN_EMAIL" = "$EMAIL" ] || fail "admin email is $ADMIN_EMAIL"
berth instance admin-password "$ID" >/dev/null 2>&1 && fail "the password was shown twice"
[ "$(api "/api/v1/instances/$ID/admin/reveal" -X POST -o /dev/null -w '%{http_code}')" = 409 ] ||
    fail "API reveal after the CLI's is not 409"
step "admin password revealed once (CLI); again: refused (CLI, API 409)"

via_caddy() { curl -fsS -H "Host: $SLUG.localhost:$HTTP_PORT" "http://127.0.0.1:$HTTP_PORT$1" "${@:2}"; }
DEADLINE=300 until_ok via_caddy /health || fail "Open WebUI never healthy through Caddy"
step "first /health 200 through Caddy"

container() { docker ps -q --filter "label=berth.managed=$OWNER" --filter "label=berth.instance=$ID"; }
envof() { docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$(container)" | sed -n "s/^$1=//p"; }
[ "$(envof OPENAI_API_KEY)" = "$KEY1" ] || fail "OPENAI_API_KEY is not the client's key"
[ "$(envof OPENAI_API_BASE_URL)" = "http://$GW:$FAKE_PORT/api/v1" ] || fail "base URL $(envof OPENAI_API_BASE_URL)"
[ "$(envof ENABLE_PERSISTENT_CONFIG)" = false ] || fail "persistent config not off"
step "container env: key, base URL, ENABLE_PERSISTENT_CONFIG=false"

signin() {
    via_caddy /api/v1/auths/signin -H 'content-type: application/json' \
        -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PW\"}" | json "d['token']"
}
SESSION=$(signin) || fail "the pre-created admin cannot sign in"
ROLE=$(via_caddy /api/v1/auths/ -H "Authorization: Bearer $SESSION" | json "d['role']")
[ "$ROLE" = admin ] || fail "role is $ROLE"
step "pre-created admin signs in (role admin)"

models() { via_caddy /api/models -H "Authorization: Bearer $SESSION" | json "' '.join(m['id'] for m in d['data'])"; }
lists_fake_models() { models | grep -q berth-fake/echo-1; }
DEADLINE=60 until_ok lists_fake_models ||
    fail "the instance does not list the fake's models: $(models)"
LAST=$(fake /_fake/bearers | json "d[-1]")
[ "$LAST" = "$KEY1" ] || fail "the instance called the provider with another key"
step "GET /api/models lists the fake's models: $(models)"
step "the fake saw the client's key as bearer"

CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $SLUG.localhost:$HTTP_PORT" \
    "http://127.0.0.1:$HTTP_PORT/api/v1/auths/signup" -H 'content-type: application/json' \
    -d '{"name":"Intruder","email":"x@evil.example","password":"whatever123"}')
[ "$CODE" = 403 ] || fail "sign-up answered $CODE"
step "sign-up refused (403)"

# berth knows the account exists once Docker's health check passed with
# the password in the env; the password leaves the env at the next recreate.
account_created() { api "/api/v1/instances/$ID/admin" | grep -q '"created":true'; }
DEADLINE=60 until_ok account_created || fail "berth never saw the account: $(api "/api/v1/instances/$ID/admin")"
[ -n "$(envof WEBUI_ADMIN_PASSWORD)" ] || fail "the password left the env without a recreate"
step "berth knows the account exists (no recreate for that alone)"

OLD_CONTAINER=$(container)
berth llm rotate "$SLUG" >/dev/null || fail "rotate"
rotated() { [ -n "$(container)" ] && [ "$(container)" != "$OLD_CONTAINER" ] && [ -n "$(envof OPENAI_API_KEY)" ] && [ "$(envof OPENAI_API_KEY)" != "$KEY1" ]; }
DEADLINE=60 until_ok rotated || fail "not recreated with a new key"
KEY2=$(envof OPENAI_API_KEY)
fake /_fake/keys | grep -q "$KEY1" || fail "old key deleted before the new container is healthy"
step "rotate: recreated with ${KEY2:0:14}...; old key still at the provider"

DEADLINE=300 until_ok via_caddy /health || fail "not healthy after the rotation"
step "healthy again after the recreate"
old_key_gone() { ! fake /_fake/keys | grep -q "$KEY1"; }
DEADLINE=60 until_ok old_key_gone ||
    fail "old key never deleted"
step "old key deleted at the provider once the new container was healthy"

SESSION=$(signin) || fail "admin cannot sign in after the rotation"
models | grep -q berth-fake/echo-1 || fail "no models after the rotation"
LAST=$(fake /_fake/bearers | json "d[-1]")
[ "$LAST" = "$KEY2" ] || fail "after the rotation the instance called with ${LAST:0:14}..., not the new key"
step "after rotation /api/models uses the new key (persistent config off)"

[ -z "$(envof WEBUI_ADMIN_PASSWORD)" ] || fail "admin password still in the env after the recreate"
step "admin password dropped from the env at the recreate"

for secret in "$KEY1" "$KEY2" "$ADMIN_PW"; do
    grep -qF "$secret" "$W/berth.log" && fail "a secret is in berth's log"
    api "/api/v1/clients/$SLUG" | grep -qF "$secret" && fail "a secret in the client API"
    api "/api/v1/clients/$SLUG/llm" | grep -qF "$secret" && fail "a secret in the llm API"
    api "/api/v1/instances/$ID" | grep -qF "$secret" && fail "a secret in the instance API"
    # The audit log and every other table: no plaintext anywhere in the database.
    cat "$W"/run/berth-data/*.db* | grep -qaF "$secret" && fail "a secret in the database"
    berth client export "$SLUG" 2>/dev/null | grep -qF "$secret" && fail "a secret in the export"
done
step "no key or password in log, API, export, database (audit incl.)"

berth client delete "$SLUG" --confirm "$SLUG" >/dev/null || fail "delete"
no_keys() { ! fake /_fake/keys | grep -q sk-or; }
DEADLINE=60 until_ok no_keys ||
    fail "keys left at the provider after the delete"
step "client deleted: its key deleted at the provider"

echo "OK: LLM key injection, rotation and hand-over with Open WebUI end to end"
