#!/usr/bin/env bash
# Compares, in one run on one machine:
#   1. our NBD client (nbd-read / nbd-write) with nbdcopy, same connections and requests in flight, against the same
#      nbdkit memory export (prefilled first: nbdkit's first touch of a page is slow);
#   2. our NBD server (nbd-serve) with nbdkit's file plugin and qemu-nbd, serving the same file, nbdcopy as the client.
# Every figure is MB/s (10^6 bytes per second), best of $RUNS runs. Never run it beside another benchmark.
#
# Environment: SIZE (export size, default 1G), CONNECTIONS (2), REQUESTS (16 in flight per connection),
# REQUEST_SIZE (262144), RUNS (3).
#
# What each figure includes. nbdcopy and the servers' rows: the whole nbdcopy process (start, connect, transfer,
# disconnect; for writes also reading the source file from the page cache). "VirtualDevices nbd-read / nbd-write":
# the benchmark's own clock, from the first request to the last reply (after a flush, for writes), once connected and
# warmed up (64 MiB, untimed): it excludes the .NET runtime start, JIT and connecting. The row below it times the
# whole process like nbdcopy's, so it also pays the runtime start, the JIT and the 64 MiB warm-up transfer.
#
# Our processes run with two process-wide .NET settings suited to a machine with few cores (set here, for our
# processes only; applications set them the same way): no spinning of idle thread-pool workers (they compete for
# the cores with the peer), and socket completions run on the socket thread rather than one hop later on the pool.
set -euo pipefail

SIZE=${SIZE:-1G}
CONNECTIONS=${CONNECTIONS:-2}
REQUESTS=${REQUESTS:-16}
REQUEST_SIZE=${REQUEST_SIZE:-262144}
RUNS=${RUNS:-3}

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

dotnet build -c Release "$project" -v quiet -nologo >/dev/null
bench=(env DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 "$project/bin/Release/net10.0/VirtualDevices.Benchmarks")

bytes=$(numfmt --from=iec "$SIZE")

wait_socket() {
    for _ in $(seq 200); do
        if nbdinfo --size "nbd+unix:///?socket=$1" >/dev/null 2>&1; then return 0; fi
        sleep 0.05
    done
    echo "no server on $1" >&2
    return 1
}

# Runs a command RUNS times and prints the best MB/s. Our benchmarks print the figure on their last line;
# for the real tools the elapsed time is measured here.
best_of() {
    local best=0 figure
    for _ in $(seq "$RUNS"); do
        if [[ $1 == ours ]]; then
            figure=$("${@:2}" | tail -n 1 | awk '{print $1}')
        else
            local start end
            start=$(date +%s.%N)
            "${@:2}" >/dev/null
            end=$(date +%s.%N)
            figure=$(awk -v b="$bytes" -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", b / 1e6 / (e - s) }')
        fi
        best=$(awk -v a="$best" -v b="$figure" 'BEGIN { print (b > a) ? b : a }')
    done
    echo "$best"
}

nbdcopy_opts=(--connections="$CONNECTIONS" --requests="$REQUESTS" --request-size="$REQUEST_SIZE" --no-extents)
ours_opts=(--connections "$CONNECTIONS" --requests "$REQUESTS" --size "$REQUEST_SIZE")

echo "export $SIZE, $CONNECTIONS connection(s), $REQUESTS requests in flight per connection, $REQUEST_SIZE bytes per request, best of $RUNS"
echo

# ---- 1. Clients against nbdkit memory ------------------------------------------------------------------------
mem="$work/memory.sock"
nbdkit -f -U "$mem" memory "$SIZE" & pids+=($!)
wait_socket "$mem"
uri="nbd+unix:///?socket=$mem"
"${bench[@]}" nbd-write "$uri" "${ours_opts[@]}" >/dev/null   # prefill every page

source_file="$work/source.img"
head -c "$bytes" /dev/urandom > "$source_file"
cat "$source_file" > /dev/null   # in the page cache, as the source of nbdcopy's writes

client_read_ours=$(best_of ours "${bench[@]}" nbd-read "$uri" "${ours_opts[@]}")
client_read_wall=$(best_of tool "${bench[@]}" nbd-read "$uri" "${ours_opts[@]}")
client_read_nbdcopy=$(best_of tool nbdcopy "${nbdcopy_opts[@]}" "$uri" null:)
client_write_ours=$(best_of ours "${bench[@]}" nbd-write "$uri" "${ours_opts[@]}")
client_write_wall=$(best_of tool "${bench[@]}" nbd-write "$uri" "${ours_opts[@]}")
client_write_nbdcopy=$(best_of tool nbdcopy "${nbdcopy_opts[@]}" "$source_file" "$uri")
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

printf '%-44s %10s %10s\n' "client (nbdkit memory export)" "read MB/s" "write MB/s"
printf '%-44s %10s %10s\n' "VirtualDevices nbd-read / nbd-write" "$client_read_ours" "$client_write_ours"
printf '%-44s %10s %10s\n' "  same, whole process (start, JIT, warm-up)" "$client_read_wall" "$client_write_wall"
printf '%-44s %10s %10s\n' "nbdcopy" "$client_read_nbdcopy" "$client_write_nbdcopy"
echo

# ---- 2. Servers serving the same file, nbdcopy as the client -------------------------------------------------
served="$work/served.img"
cp "$source_file" "$served"
cat "$served" > /dev/null

serve_and_measure() {
    local name=$1 sock=$2; shift 2
    "$@" >/dev/null 2>&1 & pids+=($!)
    wait_socket "$sock"
    local u="nbd+unix:///?socket=$sock"
    local read write
    read=$(best_of tool nbdcopy "${nbdcopy_opts[@]}" "$u" null:)
    write=$(best_of tool nbdcopy "${nbdcopy_opts[@]}" "$source_file" "$u")
    kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
    printf '%-44s %10s %10s\n' "$name" "$read" "$write"
}

printf '%-44s %10s %10s\n' "server (same file, nbdcopy client)" "read MB/s" "write MB/s"
serve_and_measure "VirtualDevices nbd-serve" "$work/ours.sock" "${bench[@]}" nbd-serve "$served" "$work/ours.sock"
serve_and_measure "nbdkit file plugin" "$work/nbdkit.sock" nbdkit -f -U "$work/nbdkit.sock" file "$served"
serve_and_measure "qemu-nbd" "$work/qemu.sock" qemu-nbd -f raw -t -e 16 --cache=writeback --socket "$work/qemu.sock" "$served"
