#!/usr/bin/env bash
# The test command, for a newcomer and for CI alike (.ci/run calls it with CI=true):
#   1. installs what the tests compare against (tcpdump, tshark, netsniff-ng, the flow
#      collectors, prometheus, ...) when missing: apt-get on Debian/Ubuntu, dnf on Fedora,
#      elsewhere one line naming the packages;
#   2. runs every test once: cargo test --workspace --release (as root: the tests build network
#      namespaces; as a user, each test binary runs through sudo, the build stays yours);
#   3. ends with how many tests passed, failed and were skipped, and why.
# A test that cannot run (not root, a tool missing) passes but is counted here as skipped; under
# CI=true or RINGCAP_REQUIRE_ALL=1 it fails instead. Arguments go to cargo test (./test.sh -p
# ringcap-pcap). Set RINGCAP_NO_INSTALL=1 to install nothing.
set -uo pipefail
cd "$(dirname "$0")"

say() { printf 'test.sh: %s\n' "$*"; }

# Root's tools live in sbin directories that a user's PATH may lack.
SBIN=/usr/local/sbin:/usr/sbin:/sbin
have() { PATH="$PATH:$SBIN" type -P "$1" >/dev/null 2>&1; }

if [ "$(id -u)" -eq 0 ]; then
    ROOT=self
elif have sudo; then
    ROOT=sudo
else
    ROOT=none
    say "not root and no sudo: nothing can be installed, and the tests that need root will be skipped"
fi
as_root() {
    case $ROOT in
    self) "$@" ;;
    sudo) sudo "$@" ;;
    *) return 1 ;;
    esac
}

if ! have cargo; then
    say "cargo not found: install a Rust toolchain first (https://rustup.rs), then run ./test.sh again"
    exit 2
fi

# command          Debian/Ubuntu package   Fedora package
TOOLS='
tcpdump            tcpdump                 tcpdump
tshark             tshark                  wireshark-cli
capinfos           tshark                  wireshark-cli
editcap            tshark                  wireshark-cli
mergecap           tshark                  wireshark-cli
text2pcap          tshark                  wireshark-cli
dumpcap            tshark                  wireshark-cli
netsniff-ng        netsniff-ng             netsniff-ng
nfcapd             nfdump                  nfdump
nfdump             nfdump                  nfdump
nfpcapd            nfdump                  nfdump
nfacctd            pmacct                  pmacct
softflowd          softflowd               softflowd
fprobe             fprobe                  fprobe
prometheus         prometheus              golang-github-prometheus
promtool           prometheus              golang-github-prometheus
xdpdump            xdp-tools               xdp-tools
zstd               zstd                    zstd
tmux               tmux                    tmux
curl               curl                    curl
ping               iputils-ping            iputils
rsvg-convert       librsvg2-bin            librsvg2-tools
ethtool            ethtool                 ethtool
ip                 iproute2                iproute
setpriv            util-linux              util-linux
nsenter            util-linux              util-linux
taskset            util-linux              util-linux
mount              util-linux              util-linux
kill               procps                  procps-ng
ps                 procps                  procps-ng
'
# Services some of these packages would start; the tests start their own copies.
SERVICES='prometheus softflowd fprobe nfdump nfacctd pmacctd sfacctd uacctd'

# The packages (column 2 or 3) of the tools that are missing, each once.
missing_packages() {
    local col=$1 cmd deb fed
    while read -r cmd deb fed; do
        [ -n "$cmd" ] || continue
        have "$cmd" && continue
        if [ "$col" = deb ]; then echo "$deb"; else echo "$fed"; fi
    done <<<"$TOOLS" | awk '!seen[$0]++' | tr '\n' ' '
}
missing_tools() {
    local cmd rest
    while read -r cmd rest; do
        [ -n "$cmd" ] && ! have "$cmd" && printf '%s ' "$cmd"
    done <<<"$TOOLS"
}

install_apt() {
    # shellcheck disable=SC2206
    local want=($1) avail=() gone=() p policy=
    say "installing with apt-get: ${want[*]}"
    echo "wireshark-common wireshark-common/install-setuid boolean false" |
        as_root debconf-set-selections
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
    for p in "${want[@]}"; do
        if apt-cache show "$p" >/dev/null 2>&1; then avail+=("$p"); else gone+=("$p"); fi
    done
    [ ${#gone[@]} -eq 0 ] || say "this release has no package ${gone[*]}; the tests needing it will be skipped"
    [ ${#avail[@]} -gt 0 ] || return 0
    # No daemon starts while installing (the Debian way: policy-rc.d exiting 101).
    if ! [ -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${avail[@]}"
    local rc=$?
    [ -z "$policy" ] || as_root rm -f "$policy"
    # Nor later: the services these packages enabled are turned off again.
    if [ -d /run/systemd/system ]; then
        for p in $SERVICES; do
            if systemctl is-enabled --quiet "$p" 2>/dev/null; then
                as_root systemctl disable --now --quiet "$p" 2>/dev/null &&
                    say "disabled the $p service the package enabled (the tests run their own)"
            fi
        done
    fi
    return $rc
}

install_dnf() {
    say "installing with dnf: $1"
    # shellcheck disable=SC2086
    as_root dnf install -y --skip-unavailable $1 || as_root dnf install -y $1
}

if [ -n "$(missing_tools)" ] && [ "${RINGCAP_NO_INSTALL:-0}" != 1 ]; then
    if [ $ROOT = none ]; then
        say "cannot install (not root, no sudo): $(missing_tools)"
    elif have apt-get; then
        install_apt "$(missing_packages deb)" || say "apt-get failed; the tests needing what is missing will be skipped"
    elif have dnf; then
        install_dnf "$(missing_packages fed)" || say "dnf failed; the tests needing what is missing will be skipped"
    else
        say "no apt-get or dnf here: install these with your package manager, then run ./test.sh again: $(missing_packages deb)(Debian names; the tests needing them are skipped)"
    fi
fi
if [ -n "$(missing_tools)" ]; then
    say "still missing: $(missing_tools)"
fi

# The skip log: one line per skipped test, written by ringcap_netlab::skip.
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target/release"
RINGCAP_SKIP_LOG="$(cd "$target/release" && pwd)/ringcap-skipped.log"
export RINGCAP_SKIP_LOG
: >"$RINGCAP_SKIP_LOG"

out=$(mktemp "${TMPDIR:-/tmp}/ringcap-test.XXXXXX")
keepalive=
cleanup() {
    rm -f "$out"
    [ -z "$keepalive" ] || kill "$keepalive" 2>/dev/null
}
trap cleanup EXIT

if [ $ROOT = sudo ]; then
    # Build as the user, run each test binary as root (cargo's runner), keeping the environment
    # (CI, RINGCAP_*); sudo asks once, now, and stays valid while the tests run.
    sudo -v || {
        say "sudo refused; the tests that need root will be skipped"
        ROOT=none
    }
fi
if [ $ROOT = sudo ]; then
    (while sleep 60; do sudo -n -v 2>/dev/null || exit; done) &
    keepalive=$!
    host=$(rustc -vV | sed -n 's/^host: //p')
    export "CARGO_TARGET_$(echo "$host" | tr 'a-z.-' 'A-Z__')_RUNNER=sudo -E"
fi
[ -t 1 ] && export CARGO_TERM_COLOR=always

say "running: cargo test --workspace --release --no-fail-fast $*"
cargo test --workspace --release --no-fail-fast "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}

# The summary: the last lines of the run.
read -r passed failed ignored < <(
    sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -E '^test result: ' |
        sed -E 's/.* ([0-9]+) passed; ([0-9]+) failed; ([0-9]+) ignored.*/\1 \2 \3/' |
        awk '{p += $1; f += $2; i += $3} END {print p + 0, f + 0, i + 0}'
)
skipped=$(grep -c '^SKIPPED ' "$RINGCAP_SKIP_LOG")
failures=$(sed 's/\x1b\[[0-9;]*m//g' "$out" | sed -nE 's/^test (.*) \.\.\. FAILED$/\1/p' | sort -u)
strict=
if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ] || [ "${RINGCAP_REQUIRE_ALL:-}" = 1 ]; then
    strict=1
fi

echo
echo "==================== test.sh summary ===================="
echo "passed:  $passed (of which $skipped skipped)"
echo "failed:  $failed"
echo "ignored: $ignored"
if [ "$skipped" -gt 0 ]; then
    echo "skipped: $skipped, by reason (tests listed in $RINGCAP_SKIP_LOG):"
    sed -E 's/^SKIPPED [^ ]+: //' "$RINGCAP_SKIP_LOG" | sort | uniq -c | sort -rn |
        sed -E 's/^ *([0-9]+) /  \1  /'
else
    echo "skipped: 0"
fi
if [ -n "$failures" ]; then
    nfail=$(echo "$failures" | wc -l)
    echo "failed tests:"
    echo "$failures" | head -15 | sed 's/^/  /'
    [ "$nfail" -le 15 ] || echo "  ... and $((nfail - 15)) more (see above)"
fi
if [ "$status" -ne 0 ]; then
    if [ "$failed" -eq 0 ]; then
        echo "RESULT: FAIL (cargo test exited with $status before every test ran; see above)"
    else
        echo "RESULT: FAIL ($failed failed)"
    fi
    exit 1
fi
if [ -n "$strict" ] && [ "$skipped" -gt 0 ]; then
    echo "RESULT: FAIL ($skipped skipped, and a skip is a failure under CI=true or RINGCAP_REQUIRE_ALL=1)"
    exit 1
fi
if [ "$skipped" -gt 0 ]; then
    echo "RESULT: PASS, but $skipped tests were skipped (see the reasons above)"
else
    echo "RESULT: PASS (every test ran)"
fi
