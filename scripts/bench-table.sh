#!/usr/bin/env bash
# Every benchmark, then one table: figure | target | value | ratio | pass.
#
#   scripts/bench-table.sh            # full sizes (~20 min on 2 cores, after the build)
#   scripts/bench-table.sh --quick    # small sizes: proves every bench runs and
#                                     # reports; its figures are not the targets' sizes
#
# Each benchmark prints its own detail (kept in $BENCH_OUT/<name>.log) and
# appends one JSON line per figure to $BERTH_BENCH_RESULTS
# (benches/support/results.rs); the table is made from those lines, with
# the machine's load and core count at start and end, because figures on a
# shared 2-core machine only compare within one run.
#
# Needs what the benches need: Docker, caddy, docker-compose, wrk, zstd,
# restic and rclone (the offsite bench),
# and jq for the table. Run as a user that may use Docker (the benches
# create containers under a throwaway owner label and remove them).
#
# Exit status: 0 all targets met, 1 a target missed (full run only),
# 2 a benchmark failed to run or reported nothing.
set -uo pipefail
cd "$(dirname "$0")/.."

mode=full
case "${1:-}" in
    --quick) mode=quick ;;
    "") ;;
    *) echo "usage: $0 [--quick]" >&2; exit 64 ;;
esac
command -v jq >/dev/null || { echo "the table needs jq (Debian package jq)" >&2; exit 2; }

out=${BENCH_OUT:-target/bench-table/$(date -u +%Y%m%dT%H%M%SZ)-$mode}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export BERTH_BENCH_RESULTS=$out/results.jsonl
: >"$BERTH_BENCH_RESULTS"

machine() { echo "$(nproc) cores, uptime:$(uptime)"; }

# Build everything first, so compiling is neither timed nor competing with a run.
cargo bench --no-run || exit 2
cargo build --release --example backup_bench || exit 2

at_start=$(machine)
started=$(date +%s)
echo "== $mode run, $at_start"

if [ "$mode" = full ]; then
    core=(--runs 5 --concurrent 20 --idle 200)
    ui=(--clients 500 --duration 10s)
    usage=(--instances 100 --cpu-window 2m)
    backup=(/tmp/berth-bench 3 1)
    freeze=(--mb 800 --backups 10)
    llm=(--keys 500 --polls 5 --runs 5 --slow-ms 3000)
    updates=(--instances 20)
    offsite=(--mb 800 --runs 3)
else
    core=(--runs 1 --concurrent 5 --idle 0)
    ui=(--clients 50 --duration 2s)
    usage=(--instances 10 --cpu-window 10s)
    backup=(/tmp/berth-bench 3 0.05)
    freeze=(--mb 20 --backups 3)
    llm=(--keys 50 --polls 2 --runs 1 --slow-ms 1000)
    updates=(--instances 3)
    offsite=(--mb 40 --runs 1)
fi

broken=()
# run NAME COMMAND...: shows the bench's own output and keeps it; a bench
# that fails or records no row is named under the table.
run() {
    local name=$1
    shift
    local rows_before
    rows_before=$(wc -l <"$BERTH_BENCH_RESULTS")
    echo
    echo "== $name: $*"
    local t0=$SECONDS
    "$@" 2>&1 | tee "$out/$name.log"
    local status=${PIPESTATUS[0]}
    echo "== $name: exit $status after $((SECONDS - t0)) s"
    if [ "$status" -ne 0 ]; then
        broken+=("$name (exit $status, see $out/$name.log)")
    elif [ "$(wc -l <"$BERTH_BENCH_RESULTS")" -eq "$rows_before" ]; then
        broken+=("$name (recorded no figure, see $out/$name.log)")
    fi
}

run caddy_load cargo bench --bench caddy_load
run ui cargo bench --bench ui -- "${ui[@]}"
run core cargo bench --bench core -- "${core[@]}"
run usage cargo bench --bench usage -- "${usage[@]}"
run freeze cargo bench --bench freeze -- "${freeze[@]}"
run llm cargo bench --bench llm -- "${llm[@]}"
run updates cargo bench --bench updates -- "${updates[@]}"
run offsite cargo bench --bench offsite -- "${offsite[@]}"
run backup cargo run --release --example backup_bench -- "${backup[@]}"

at_end=$(machine)
{
    echo "berth benchmarks, $mode run, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(( ($(date +%s) - started) / 60 )) min"
    echo "start: $at_start"
    echo "end:   $at_end"
    echo
    echo "| figure | target | value | ratio | pass |"
    echo "|---|---|---|---|---|"
    # A "|" inside a cell (tar|zstd) would split it: escape it for Markdown.
    jq -r 'def cell: gsub("\\|"; "\\|");
        "| \(.figure | cell) | \(.target) | \(.value) | \(.ratio) | \(if .pass == null then "-" elif .pass then "yes" else "**NO**" end) |"' \
        "$BERTH_BENCH_RESULTS"
    for b in "${broken[@]}"; do echo "benchmark failed: $b"; done
} >"$out/table.md"
echo
cat "$out/table.md"
echo "(table and logs in $out)"

[ ${#broken[@]} -eq 0 ] || exit 2
if [ "$mode" = full ] &&
    jq -n -e '[inputs | select(.pass == false)] | length > 0' "$BERTH_BENCH_RESULTS" >/dev/null; then
    exit 1
fi
exit 0
