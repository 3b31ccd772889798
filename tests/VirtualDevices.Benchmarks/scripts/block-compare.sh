#!/usr/bin/env bash
# Sequential read of one file-backed device, side by side in one run: dd (1 MiB blocks) and the core's
# FileBlockDevice (1 MiB requests), both from the page cache (the file is read once first), and both with O_DIRECT.
# Usage: block-compare.sh [SIZE_MIB]   (default 1024)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
size=${1:-1024}
work=$(mktemp -d /var/tmp/vd-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
image="$work/disk.img"
head -c $((size << 20)) /dev/urandom > "$image"
dotnet build -c Release "$root/tests/VirtualDevices.Benchmarks" -v q -nologo >/dev/null
bench=(dotnet "$root/tests/VirtualDevices.Benchmarks/bin/Release/net10.0/VirtualDevices.Benchmarks.dll")
cat "$image" > /dev/null

dd_mbs() { dd if="$image" of=/dev/null bs=1M "$@" 2>&1 | awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "bytes") b = $(i-1); for (i = 1; i <= NF; i++) if ($i == "s,") t = $(i-1); printf "%.1f", b / t / 1e6 }'; }

cached_dd=$(dd_mbs)
cached_vd=$("${bench[@]}" block-read "$image" | tail -n 1 | awk '{print $1}')
direct_dd=$(dd_mbs iflag=direct)
direct_vd=$("${bench[@]}" block-read "$image" --direct | tail -n 1 | awk '{print $1}')
printf '%-22s %12s %12s %8s\n' "sequential read" "dd MB/s" "core MB/s" "ratio"
printf '%-22s %12s %12s %8.2f\n' "page cache, 1 MiB" "$cached_dd" "$cached_vd" "$(echo "$cached_vd / $cached_dd" | bc -l)"
printf '%-22s %12s %12s %8.2f\n' "O_DIRECT, 1 MiB" "$direct_dd" "$direct_vd" "$(echo "$direct_vd / $direct_dd" | bc -l)"
