#!/usr/bin/env bash
# Compares, in one run on the same machine:
#   1. client: our XenstoreClient (xenstore-ops) against a libxenstore C client doing the same mix,
#      both against the same embedded server (xenstore-serve);
#   2. server: the round trip of our server (xenstore-rtt against xenstore-serve) against a bare
#      request/response exchange over a unix socket (xenstore-rtt against xenstore-rtt-serve).
# Targets: our client at least as fast as libxenstore; our server within 1.5x of the bare exchange.
# Usage: xenstore-compare.sh [COUNT] [ROUNDS]   (needs gcc and libxen-dev; runs one benchmark at a time)
set -euo pipefail

count="${1:-50000}"
rounds="${2:-3}"
here="$(cd "$(dirname "$0")" && pwd)"
project="$here/.."
work="$(mktemp -d /tmp/xenstore-compare.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

dotnet build "$project" -c Release -v quiet -nologo >/dev/null
bench="$project/bin/Release/net10.0/VirtualDevices.Benchmarks"

# The libxenstore client: the same R W R D R W R W R D mix as xenstore-ops, one request at a time.
cat > "$work/xsops.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

static const char mix[] = "RWRDRWRWRD";

static void run(struct xs_handle *h, char keys[16][32], const char *value, int count)
{
    for (int i = 0; i < count; i++) {
        unsigned int len;
        const char *key = keys[i & 15];
        switch (mix[i % 10]) {
        case 'R': { char *v = xs_read(h, XBT_NULL, key, &len); if (!v) { perror("read"); exit(1); } free(v); break; }
        case 'W': if (!xs_write(h, XBT_NULL, key, value, 32)) { perror("write"); exit(1); } break;
        default: { char **d = xs_directory(h, XBT_NULL, "/bench/ops", &len); if (!d) { perror("directory"); exit(1); } free(d); break; }
        }
    }
}

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 100000;
    struct xs_handle *h = xs_open(0);
    if (!h) { perror("xs_open"); return 1; }
    char keys[16][32];
    char value[33];
    memset(value, 'v', 32);
    value[32] = 0;
    for (int i = 0; i < 16; i++) {
        snprintf(keys[i], sizeof keys[i], "/bench/ops/k%02d", i);
        xs_write(h, XBT_NULL, keys[i], value, 32);
    }
    run(h, keys, value, 10000);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    run(h, keys, value, count);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double seconds = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%d operations (%s mix) in %.3f s, %.1f us each\n", count, mix, seconds, seconds * 1e6 / count);
    printf("%.0f ops/s\n", count / seconds);
    xs_close(h);
    return 0;
}
C
gcc -O2 -o "$work/xsops" "$work/xsops.c" -lxenstore

wait_for_socket() {
    for _ in $(seq 200); do [ -S "$1" ] && return 0; sleep 0.05; done
    echo "socket $1 did not appear" >&2; exit 1
}
figure() { tail -n 1 | awk '{print $1}'; }
best() { sort -n | tail -n 1; }

server_socket="$work/xenstored.sock"
"$bench" xenstore-serve "$server_socket" >/dev/null &
pids+=("$!")
wait_for_socket "$server_socket"

bare_socket="$work/bare.sock"
"$bench" xenstore-rtt-serve "$bare_socket" >/dev/null &
pids+=("$!")
wait_for_socket "$bare_socket"

ours=(); ours_async=(); theirs=(); server_rtt=(); bare_rtt=()
for round in $(seq "$rounds"); do
    # Alternate the contenders so drift on a shared machine hits both alike; best and median of the rounds are reported.
    ours+=("$("$bench" xenstore-ops "$server_socket" --count "$count" | figure)")
    theirs+=("$(XENSTORED_PATH="$server_socket" "$work/xsops" "$count" | figure)")
    # As the PowerShell layer opens its clients: continuations on the thread pool.
    ours_async+=("$("$bench" xenstore-ops "$server_socket" --count "$count" --async-continuations | figure)")
    server_rtt+=("$("$bench" xenstore-rtt "$server_socket" --count "$count" | figure)")
    bare_rtt+=("$("$bench" xenstore-rtt "$bare_socket" --count "$count" | figure)")
    echo "round $round: ours ${ours[-1]} ops/s (async continuations ${ours_async[-1]}), libxenstore ${theirs[-1]} ops/s; server ${server_rtt[-1]} rt/s, bare ${bare_rtt[-1]} rt/s" >&2
done

median() { sort -n | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.0f\n", (v[NR/2]+v[NR/2+1])/2}'; }
o=$(printf '%s\n' "${ours[@]}" | best); om=$(printf '%s\n' "${ours[@]}" | median)
a=$(printf '%s\n' "${ours_async[@]}" | best); am=$(printf '%s\n' "${ours_async[@]}" | median)
t=$(printf '%s\n' "${theirs[@]}" | best); tm=$(printf '%s\n' "${theirs[@]}" | median)
s=$(printf '%s\n' "${server_rtt[@]}" | best); sm=$(printf '%s\n' "${server_rtt[@]}" | median)
b=$(printf '%s\n' "${bare_rtt[@]}" | best); bm=$(printf '%s\n' "${bare_rtt[@]}" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
us() { awk -v a="$1" 'BEGIN{printf "%.1f", 1e6/a}'; }
echo
printf '%-48s %16s %16s %14s\n' "comparison ($rounds rounds of $count)" "ours best/med" "ref best/med" "ratio best/med"
printf '%-48s %16s %16s %14s\n' "client mix, ops/s (ref: libxenstore)" "$o/$om" "$t/$tm" "$(ratio "$o" "$t")/$(ratio "$om" "$tm")"
printf '%-48s %16s %16s %14s\n' "  async continuations, ops/s (ref: libxenstore)" "$a/$am" "$t/$tm" "$(ratio "$a" "$t")/$(ratio "$am" "$tm")"
printf '%-48s %16s %16s %14s\n' "round trip, us (ref: bare unix exchange)" "$(us "$s")/$(us "$sm")" "$(us "$b")/$(us "$bm")" "$(ratio "$b" "$s")/$(ratio "$bm" "$sm")"
client_ok=$(awk -v a="$o" -v b="$t" -v c="$om" -v d="$tm" 'BEGIN{print (a>=b && c>=d) ? "yes" : "no"}')
server_ok=$(awk -v a="$s" -v b="$b" -v c="$sm" -v d="$bm" 'BEGIN{print (b/a<=1.5 && d/c<=1.5) ? "yes" : "no"}')
echo "targets (best and median): client >= libxenstore: $client_ok; server round trip <= 1.5x bare: $server_ok"
