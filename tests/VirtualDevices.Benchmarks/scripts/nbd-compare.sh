#!/usr/bin/env bash
# Compares, in one run on one machine, runs interleaved so that a noisy neighbour hurts every row alike:
#   1. our NBD client (nbd-read / nbd-write) with nbdcopy, same connections, requests in flight and request size,
#      against the same nbdkit memory export (prefilled first: nbdkit's first touch of a page is slow);
#   2. copies between that export and a file, as Read-BlockDevice -OutFile and Write-BlockDevice -InFile make them
#      (nbd-copy), with nbdcopy making the same copies;
#   3. our NBD server (nbd-serve) with nbdkit's file plugin and qemu-nbd, serving the same file, nbdcopy the client.
# Figures: MB/s (10^6 bytes per second), median and best of $RUNS runs, and CPU seconds per GiB (median).
# Never run it beside another benchmark.
#
# Environment: SIZE (export size, default 1G), CONNECTIONS (2), REQUESTS (16 in flight per connection),
# REQUEST_SIZE (262144), RUNS (5).
#
# What each figure includes.
# - nbdcopy and the server rows: the whole nbdcopy process (start, connect, transfer, disconnect; for writes also
#   reading the source file from the page cache). The server's CPU is what the server process used meanwhile.
# - "VirtualDevices nbd-read / nbd-write": the benchmark's own clock and CPU, from the first request to the last
#   reply (after a flush, for writes), once connected and warmed up (64 MiB, untimed). The "whole process" row
#   below it measures like nbdcopy's row, one pass without warm-up: the .NET runtime's start, compiling what was
#   not precompiled, connecting and the transfer. The row after it sets
#   NbdClientOptions.UnsafeInlineCompletions (continuations on the connection's reading thread, as libnbd runs its
#   completion callbacks; safe for the benchmark, whose continuations only queue the next request).
#
# Our processes are published ReadyToRun (precompiled, as an application would ship) and run with settings suited to
# a 2-core machine, set here for our processes only: tiered compilation off (the precompiled code runs as it is and
# the rest is compiled once, optimised, instead of re-compiled on a background thread that competes with the peer
# for the cores), no spinning of idle thread-pool workers, socket completions inline.
set -euo pipefail

SIZE=${SIZE:-1G}
CONNECTIONS=${CONNECTIONS:-2}
REQUESTS=${REQUESTS:-16}
REQUEST_SIZE=${REQUEST_SIZE:-262144}
RUNS=${RUNS:-5}

here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/.." && pwd)
work=$(mktemp -d /tmp/nbd-compare.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

if ! dotnet publish "$project" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$work/bench" -v quiet -nologo >/dev/null 2>&1; then
    echo "(ReadyToRun publish failed: measuring the plain build)" >&2
    dotnet publish "$project" -c Release -o "$work/bench" -v quiet -nologo >/dev/null
fi
bench=(env DOTNET_TieredCompilation=0 DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 "$work/bench/VirtualDevices.Benchmarks")

bytes=$(numfmt --from=iec "$SIZE")
gib=$(awk -v b="$bytes" 'BEGIN { print b / 1073741824 }')
results="$work/results"
: > "$results"

wait_socket() {
    for _ in $(seq 200); do
        if nbdinfo --size "nbd+unix:///?socket=$1" >/dev/null 2>&1; then return 0; fi
        sleep 0.05
    done
    echo "no server on $1" >&2
    return 1
}

# CPU seconds a process has used so far (user + system).
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"; }

# record ROW MBPS CPU_SECONDS
record() { echo "$1|$2|$(awk -v c="$3" -v g="$gib" 'BEGIN { printf "%.3f", c / g }')" >> "$results"; }

# Runs a real tool (or our whole process) under /usr/bin/time; records its MB/s and its own CPU, or, with a server
# pid, the server's CPU over the same interval.
measure() {
    local row=$1 server_pid=$2; shift 2
    local before=0 timing wall cpu
    [[ -n $server_pid ]] && before=$(cpu_of "$server_pid")
    timing=$( { /usr/bin/time -f "%e %U %S" "$@" >/dev/null; } 2>&1 | tail -n 1)
    wall=$(awk '{ print $1 }' <<<"$timing")
    if [[ -n $server_pid ]]; then
        cpu=$(awk -v a="$before" -v b="$(cpu_of "$server_pid")" 'BEGIN { print b - a }')
    else
        cpu=$(awk '{ print $2 + $3 }' <<<"$timing")
    fi
    record "$row" "$(awk -v b="$bytes" -v w="$wall" 'BEGIN { printf "%.1f", b / 1e6 / w }')" "$cpu"
}

# Our client: its own clock and CPU (last two lines of its output).
measure_ours() {
    local row=$1; shift
    local output mbps cpu
    output=$("$@")
    mbps=$(tail -n 1 <<<"$output" | awk '{ print $1 }')
    cpu=$(grep -o 'process CPU [0-9.]*' <<<"$output" | awk '{ print $3 }')
    record "$row" "$mbps" "$cpu"
}

nbdcopy_opts=(--connections="$CONNECTIONS" --requests="$REQUESTS" --request-size="$REQUEST_SIZE" --no-extents)
ours_opts=(--connections "$CONNECTIONS" --requests "$REQUESTS" --size "$REQUEST_SIZE")

echo "export $SIZE, $CONNECTIONS connection(s), $REQUESTS requests in flight per connection, $REQUEST_SIZE bytes per request, $RUNS runs"

source_file="$work/source.img"
head -c "$bytes" /dev/urandom > "$source_file"
served="$work/served.img"
cp "$source_file" "$served"
cat "$source_file" "$served" > /dev/null   # in the page cache

mem="$work/memory.sock"
nbdkit -f -U "$mem" memory "$SIZE" & pids+=($!)
wait_socket "$mem"
uri="nbd+unix:///?socket=$mem"
"${bench[@]}" nbd-write "$uri" "${ours_opts[@]}" >/dev/null   # prefill every page

start_server() {   # NAME SOCKET COMMAND...: starts a server, sets server_pid
    local sock=$2; shift 2
    rm -f "$sock"
    "$@" >/dev/null 2>&1 & server_pid=$!
    pids+=("$server_pid")
    wait_socket "$sock"
}

for run in $(seq "$RUNS"); do
    echo "run $run of $RUNS" >&2
    measure_ours "client|VirtualDevices nbd-read / nbd-write|read" "${bench[@]}" nbd-read "$uri" "${ours_opts[@]}"
    measure_ours "client|VirtualDevices nbd-read / nbd-write|write" "${bench[@]}" nbd-write "$uri" "${ours_opts[@]}"
    measure "client|  same, whole process|read" "" "${bench[@]}" nbd-read "$uri" "${ours_opts[@]}" --warmup 0
    measure "client|  same, whole process|write" "" "${bench[@]}" nbd-write "$uri" "${ours_opts[@]}" --warmup 0
    measure_ours "client|  same, UnsafeInlineCompletions|read" "${bench[@]}" nbd-read "$uri" "${ours_opts[@]}" --inline-completions
    measure_ours "client|  same, UnsafeInlineCompletions|write" "${bench[@]}" nbd-write "$uri" "${ours_opts[@]}" --inline-completions
    measure "client|nbdcopy|read" "" nbdcopy "${nbdcopy_opts[@]}" "$uri" null:
    measure "client|nbdcopy|write" "" nbdcopy "${nbdcopy_opts[@]}" "$source_file" "$uri"

    # What Read-BlockDevice -Uri U -OutFile F and Write-BlockDevice -Uri U -InFile F do: one connection, the
    # streaming operations' window (8 transfers of 1 MiB); nbdcopy with the same connection, requests and size.
    rm -f "$work/copy.img"
    measure "copy|VirtualDevices nbd-copy|read" "" "${bench[@]}" nbd-copy "$uri" "$work/copy.img"
    measure "copy|VirtualDevices nbd-copy|write" "" "${bench[@]}" nbd-copy "$source_file" "$uri"
    rm -f "$work/copy.img"
    measure "copy|nbdcopy, 1 connection, 8 x 1 MiB|read" "" nbdcopy --connections=1 --requests=8 --request-size=1048576 "$uri" "$work/copy.img"
    measure "copy|nbdcopy, 1 connection, 8 x 1 MiB|write" "" nbdcopy --connections=1 --requests=8 --request-size=1048576 "$source_file" "$uri"
    rm -f "$work/copy.img"

    for server in ours nbdkit qemu; do
        sock="$work/$server.sock"
        case $server in
            ours) name="VirtualDevices nbd-serve"; start_server "$name" "$sock" "${bench[@]}" nbd-serve "$served" "$sock" ;;
            nbdkit) name="nbdkit file plugin"; start_server "$name" "$sock" nbdkit -f -U "$sock" file "$served" ;;
            qemu) name="qemu-nbd"; start_server "$name" "$sock" qemu-nbd -f raw -t -e 16 --cache=writeback --socket "$sock" "$served" ;;
        esac
        u="nbd+unix:///?socket=$sock"
        measure "server|$name|read" "$server_pid" nbdcopy "${nbdcopy_opts[@]}" "$u" null:
        measure "server|$name|write" "$server_pid" nbdcopy "${nbdcopy_opts[@]}" "$source_file" "$u"
        kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
    done
done

python3 - "$results" <<'PY'
import collections, statistics, sys
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    section, row, op, mbps, cpu = line.strip().split("|")
    rows.setdefault((section, row), {}).setdefault(op, []).append((float(mbps), float(cpu)))

def cell(samples):
    mbps = [m for m, _ in samples]
    return f"{statistics.median(mbps):8.1f} {max(mbps):8.1f} {statistics.median(c for _, c in samples):7.3f}"

headings = {"client": "client (nbdkit memory export)", "copy": "copy (Read-/Write-BlockDevice -OutFile/-InFile)",
            "server": "server (same file, nbdcopy client)"}
last = None
for (section, row), ops in rows.items():
    if section != last:
        print()
        print(f"{headings[section]:44} {'read MB/s':>17} {'CPU s':>7}  {'write MB/s':>17} {'CPU s':>7}")
        print(f"{'':44} {'median':>8} {'best':>8} {'per GiB':>7}  {'median':>8} {'best':>8} {'per GiB':>7}")
        last = section
    print(f"{row:44} {cell(ops['read'])}  {cell(ops['write'])}")

def median(section, row, op):
    return statistics.median(m for m, _ in rows[(section, row)][op])

print()
print("ratios of medians (MB/s):")
for op in ("read", "write"):
    ours = median("client", "VirtualDevices nbd-read / nbd-write", op)
    whole = median("client", "  same, whole process", op)
    inline = median("client", "  same, UnsafeInlineCompletions", op)
    copy = median("client", "nbdcopy", op)
    print(f"  client {op:5}: {ours / copy:.2f}x nbdcopy ({whole / copy:.2f}x whole process, {inline / copy:.2f}x with UnsafeInlineCompletions)")
for op in ("read", "write"):
    ours = median("copy", "VirtualDevices nbd-copy", op)
    print(f"  copy   {op:5}: {ours / median('copy', 'nbdcopy, 1 connection, 8 x 1 MiB', op):.2f}x nbdcopy (whole processes)")
for op in ("read", "write"):
    ours = median("server", "VirtualDevices nbd-serve", op)
    print(f"  server {op:5}: {ours / median('server', 'nbdkit file plugin', op):.2f}x nbdkit file, {ours / median('server', 'qemu-nbd', op):.2f}x qemu-nbd")
PY
