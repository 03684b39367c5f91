# Sourced by the scripts/e2e-*.sh checks with the real Open WebUI: one place
# for the workspace (a fresh directory with only `templates/`, the README's
# way of running berth), the step clock, waits with deadlines and the
# clean-up of everything a run leaves in Docker.
#
# The caller sets REPO and may set BERTH_BIN, OWUI_IMAGE before sourcing.

BERTH_BIN=${BERTH_BIN:-$REPO/target/debug/berth}
OWUI_IMAGE=${OWUI_IMAGE:-local/open-webui:test}

docker image inspect "$OWUI_IMAGE" >/dev/null 2>&1 ||
    { echo "no image $OWUI_IMAGE: run ../shared/tools/open-webui-image.sh first" >&2; exit 2; }
[ -x "$BERTH_BIN" ] || { echo "build first: cargo build --bin berth" >&2; exit 2; }

# With AS_SERVICE_USER=1, `run_as` runs a command as the packaged unit runs
# berth: a non-root uid in group docker with only the unit's ambient
# capabilities (systemd/berth.service AmbientCapabilities=).
AS_SERVICE_USER=${AS_SERVICE_USER:-0}
SERVICE_UID=${SERVICE_UID:-4243}
UNIT_CAPS=$(sed -n 's/^AmbientCapabilities=//p' "$REPO/systemd/berth.service" | head -1)
run_as() {
    if [ "$AS_SERVICE_USER" = 1 ]; then
        local docker_gid caps
        docker_gid=$(stat -c %g /var/run/docker.sock)
        caps=$(echo "$UNIT_CAPS" | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ \+/,+/g; s/^/+/')
        setpriv --reuid "$SERVICE_UID" --regid "$SERVICE_UID" --groups "$docker_gid" \
            --inh-caps "$caps" --ambient-caps "$caps" --bounding-set "$caps" -- "$@"
    else
        "$@"
    fi
}

# e2e_workspace PREFIX: a temp dir $W with $W/run/templates (Open WebUI on the
# local image) and a copy of berth at $W/berth; containers and networks carry
# the owner label $OWNER, so a clean-up never touches anyone else's.
e2e_workspace() {
    W=$(mktemp -d "/tmp/berth-$1.XXXX")
    chmod 0755 "$W"
    OWNER=$1-$(date +%s)
    mkdir -p "$W/run/templates"
    cp "$REPO"/templates/*.toml "$W/run/templates/"
    sed -i "s#^image = .*#image = \"$OWUI_IMAGE\"#" "$W/run/templates/open-webui.toml"
    cp "$BERTH_BIN" "$W/berth"
    export BERTH_DOCKER_OWNER=$OWNER BERTH_DOCKER_NAME_PREFIX=$OWNER
}

# Removes the run's containers, networks and temp dir (the caller stops its
# own processes first).
e2e_remove_owned() {
    docker ps -aq --filter "label=berth.managed=$OWNER" | xargs -r docker rm -f >/dev/null
    docker network ls -q --filter "label=berth.managed=$OWNER" | xargs -r docker network rm >/dev/null
    rm -rf "$W"
}

t0=$(date +%s.%N)
step() { printf '%-66s %6.1f s\n' "$1" "$(echo "$(date +%s.%N) - $t0" | bc)"; t0=$(date +%s.%N); }
fail() { echo "FAIL: $*" >&2; echo "--- berth log (tail) ---" >&2; tail -n 40 "$W/berth.log" >&2; exit 1; }

# Waits until "$@" succeeds, for at most $DEADLINE seconds.
until_ok() {
    local deadline=$((SECONDS + DEADLINE))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 1
    done
}

# json EXPR: evaluates EXPR with the document on stdin as `d`.
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
