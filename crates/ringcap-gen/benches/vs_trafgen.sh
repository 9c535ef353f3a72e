#!/bin/sh
# ringcap gen against netsniff-ng's trafgen: the same 60-byte TCP SYN frames into a veth pair in a
# private network namespace, each pinned to the same single CPU, alternating, several runs.
# Both rates are read from the same place (the sending veth end's tx_packets over a fixed
# window after a warm-up), so neither tool's own accounting is trusted. Prints each run and the
# median ratio ringcap/trafgen.
#
# Usage (root):  crates/ringcap-gen/benches/vs_trafgen.sh [RUNS] [SECONDS] [CPU]
# Takes the workspace's cargo lock for the whole run, so it never overlaps other benchmarks.
# Environment: RINGCAP_GEN_ARGS adds options to ringcap gen (e.g. "--no-ring").
set -eu

RUNS=${1:-5}
SECS=${2:-3}
CPU=${3:-0}
LOCK=/tmp/ringcap-cargo.lock

if [ -z "${RINGCAP_BENCH_LOCKED:-}" ]; then
    export RINGCAP_BENCH_LOCKED=1
    exec flock "$LOCK" "$0" "$@"
fi
[ "$(id -u)" = 0 ] || { echo "vs_trafgen: needs root (network namespace)" >&2; exit 1; }
command -v trafgen >/dev/null || { echo "vs_trafgen: trafgen (netsniff-ng) is not installed" >&2; exit 1; }

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
cargo build --release -q -p ringcap-cli
BIN="$ROOT/target/release/ringcap"

NS="ringcap-bench-gen-$$"
TMP=$(mktemp -d)
cleanup() {
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
ip netns add "$NS"
ip netns exec "$NS" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6'
ip -n "$NS" link add rc0 type veth peer name rc1
ip -n "$NS" link set rc0 up
ip -n "$NS" link set rc1 up

# The exact first frame ringcap sends (10.0.0.1:1024 > 10.1.0.1:80 SYN), as a trafgen config.
ip netns exec "$NS" tcpdump -i rc0 -c 1 -w "$TMP/one.pcap" 2>/dev/null &
sleep 0.5
ip netns exec "$NS" "$BIN" gen -i rc1 -c 1 -q --threads 1 >/dev/null 2>&1
wait
python3 - "$TMP/one.pcap" > "$TMP/syn.cfg" <<'EOF'
import sys
d = open(sys.argv[1], 'rb').read()
frame = d[24 + 16:]
assert len(frame) == 60, len(frame)
print('{ ' + ', '.join('0x%02x' % b for b in frame) + ' }')
EOF

counter() { ip netns exec "$NS" cat /sys/class/net/rc1/statistics/tx_packets; }

# measure CMD...: runs CMD in the namespace, waits 0.5 s, counts SECS seconds, stops it; prints pps.
# timeout signals the whole process group (trafgen forks its senders) and kills what ignores it.
measure() {
    timeout -s INT -k 2 "$(echo "$SECS" | awk '{ print $1 + 1 }')" ip netns exec "$NS" "$@" >"$TMP/out" 2>&1 &
    pid=$!
    sleep 0.5
    c1=$(counter); t1=$(date +%s.%N)
    sleep "$SECS"
    c2=$(counter); t2=$(date +%s.%N)
    wait "$pid" 2>/dev/null || true
    echo "$c1 $c2 $t1 $t2" | awk '{ printf "%.0f\n", ($2 - $1) / ($4 - $3) }'
}

echo "ringcap gen vs trafgen: 60-byte SYN, veth in a namespace, one sender pinned to CPU $CPU, ${SECS}s per run"
echo "$(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%4s %14s %14s %7s\n' run ringcap_pps trafgen_pps ratio
: > "$TMP/ratios"
i=1
while [ "$i" -le "$RUNS" ]; do
    # Alternate who goes first, so drift in the machine's load does not favour one tool.
    if [ $((i % 2)) = 1 ]; then
        r=$(measure taskset -c "$CPU" "$BIN" gen -i rc1 --threads 1 --cpus "$CPU" -q ${RINGCAP_GEN_ARGS:-})
        t=$(measure taskset -c "$CPU" trafgen -o rc1 -i "$TMP/syn.cfg" -P 1 --no-sock-mem -Q -C)
    else
        t=$(measure taskset -c "$CPU" trafgen -o rc1 -i "$TMP/syn.cfg" -P 1 --no-sock-mem -Q -C)
        r=$(measure taskset -c "$CPU" "$BIN" gen -i rc1 --threads 1 --cpus "$CPU" -q ${RINGCAP_GEN_ARGS:-})
    fi
    ratio=$(echo "$r $t" | awk '{ printf "%.3f", $1 / $2 }')
    echo "$ratio" >> "$TMP/ratios"
    printf '%4d %14d %14d %7s\n' "$i" "$r" "$t" "$ratio"
    i=$((i + 1))
done
sort -n "$TMP/ratios" | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "median ratio ringcap/trafgen: %.3f (%d runs)\n", m, NR }'
