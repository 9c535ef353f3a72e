#!/bin/sh
# Compile time of long filters: `ringcap compile EXPR` against `tcpdump -d EXPR` (libpcap's
# compiler and optimizer) on the same expressions, alternating, several runs each; prints the
# median wall time of each and the ratio ringcap/tcpdump, and checks that both printed the same
# program (ringcap's optimizer emulates libpcap's, so the text must be identical).
#
# The shapes are the ones whose optimization grows fastest: long `or` chains of tests on
# distinct values (or_pullup walks the chain from every block), `or` chains of protocol tests
# sharing their prefix (jump threading over many dominating edges), and `and` chains of
# negated host tests.
#
# Usage:  heavy crates/ringcap-filter/benches/vs_tcpdump.sh [RUNS]
# (`heavy` holds the machine-wide build lock for the whole run; the build inside passes through.)
set -eu

RUNS=${1:-3}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
command -v tcpdump >/dev/null || { echo "vs_tcpdump: tcpdump is not installed" >&2; exit 1; }
cargo build --release -q -p ringcap-cli
BIN="$ROOT/target/release/ringcap"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

# mkexpr SHAPE N: the expression with N terms
mkexpr() {
    python3 - "$1" "$2" <<'EOF'
import sys
shape, n = sys.argv[1], int(sys.argv[2])
if shape == "ether-or":
    t = [f"ether[{i}] = 2" for i in range(1, n + 1)]; j = " or "
elif shape == "port-or":
    t = [f"tcp port {i}" for i in range(1, n + 1)]; j = " or "
elif shape == "host-and":
    t = [f"not host 10.0.{i // 256}.{i % 256}" for i in range(1, n + 1)]; j = " and "
else:
    t = [f"(ip[{i % 60}] = {i % 7} and udp[{i % 8}:2] > {i})" for i in range(1, n + 1)]; j = " or "
print(j.join(t))
EOF
}

# secs CMD...: wall seconds of one run (output to $TMP/out)
secs() {
    t0=$(date +%s.%N)
    "$@" >"$TMP/out" 2>/dev/null
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-9s %6s %10s %12s %12s %8s %s\n' shape terms insns ringcap_s tcpdump_s ratio same
for spec in ether-or:500 ether-or:1000 ether-or:2000 ether-or:4500 port-or:250 port-or:500 \
    mixed-or:800 host-and:250 host-and:500; do
    shape=${spec%:*}
    n=${spec#*:}
    x=$(mkexpr "$shape" "$n")
    : >"$TMP/r"
    : >"$TMP/t"
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        secs timeout 600 "$BIN" compile "$x" >>"$TMP/r"
        cp "$TMP/out" "$TMP/r.txt"
        secs timeout 600 tcpdump -d "$x" >>"$TMP/t"
        cp "$TMP/out" "$TMP/t.txt"
        i=$((i + 1))
    done
    r=$(median <"$TMP/r")
    t=$(median <"$TMP/t")
    same=no
    cmp -s "$TMP/r.txt" "$TMP/t.txt" && same=yes
    printf '%-9s %6s %10s %12.3f %12.3f %8.2f %s\n' "$shape" "$n" "$(wc -l <"$TMP/t.txt")" \
        "$r" "$t" "$(echo "$r / $t" | bc -l)" "$same"
done
