#!/usr/bin/env bash
# Read-BlockDevice -Path IMAGE -OutFile COPY in pwsh, beside the core doing the same work, in one run on one machine:
#   core block-read     the core's sequential read of the image (1 MiB requests, nothing written): the issue's figure
#   core block-copy     the core's copy of the image into a file, as the cmdlet makes it (like with like)
#   cmdlet -OutFile     `Read-BlockDevice -Path IMAGE -OutFile COPY` in pwsh; a Stopwatch around the cmdlet alone
#   cmdlet to null      the same with `-OutFile /dev/null`: the cmdlet's read alone, like with like beside core block-read
#   dd / cp             C baselines of the same copy: dd bs=1M (reads and writes every byte), cp (skips holes)
# for two images of the same size: a sparse one (reads cost no disk and little memory traffic) and one filled with
# random data (every page is real). The image is in the page cache (read once first); each copy goes to a new file,
# removed after the run, so every row writes the same way. Runs are interleaved, so that a noisy neighbour hurts
# every row alike; figures are medians of RUNS runs, in MB/s (10^6 bytes per second).
#
# pwsh's start-up and Import-Module are excluded from the cmdlet's figure and reported on their own line (medians).
# The first cmdlet run of each image also checks the copy (cmp with the image); one more run, hosted in a
# [powershell] instance, counts the progress records Read-BlockDevice wrote (what Write-Progress shows).
#
# Usage: cmdlet-compare.sh [SIZE_MIB]   (default 1024). Environment: RUNS (5), BUILD=0 to use the existing
# out/VirtualDevices and benchmark build, WORK (a folder for the images; default a new one under /var/tmp).
# Exit status: 0 when every command succeeded, 1 when any failed (the table shows FAIL and the error is printed).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
size_mib=${1:-1024}
RUNS=${RUNS:-5}
BUILD=${BUILD:-1}
PATH="$HOME/.dotnet/tools:$PATH"

if ! command -v pwsh >/dev/null; then
    echo "pwsh is not on PATH (dotnet tool install --global PowerShell --version 7.6.10)" >&2
    exit 2
fi

work=${WORK:-$(mktemp -d /var/tmp/vd-cmdlet-compare.XXXXXX)}
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

module="$root/out/VirtualDevices/VirtualDevices.psd1"
bench=(dotnet "$root/tests/VirtualDevices.Benchmarks/bin/Release/net10.0/VirtualDevices.Benchmarks.dll")
if [[ $BUILD == 1 || ! -f $module ]]; then
    dotnet build "$root/src/VirtualDevices.PowerShell" -c Release -v q -nologo >/dev/null || { echo "module build failed" >&2; exit 2; }
fi
if [[ $BUILD == 1 || ! -f ${bench[1]} ]]; then
    dotnet build "$root/tests/VirtualDevices.Benchmarks" -c Release -v q -nologo >/dev/null || { echo "benchmark build failed" >&2; exit 2; }
fi

sparse="$work/sparse.img"
filled="$work/filled.img"
truncate -s "${size_mib}M" "$sparse"
head -c $((size_mib << 20)) /dev/urandom > "$filled"
bytes=$((size_mib << 20))

# The pwsh side: prints "import SECONDS" and "cmdlet SECONDS", or "error MESSAGE". The Stopwatch brackets the
# cmdlet alone; -ErrorAction Stop makes any failure (terminating or not) land in the catch.
cat > "$work/cmdlet.ps1" <<'PS1'
param([string] $Module, [string] $Image, [string] $Copy)
$ErrorActionPreference = 'Stop'
$import = [Diagnostics.Stopwatch]::StartNew()
Import-Module $Module
$import.Stop()
"import {0:F6}" -f $import.Elapsed.TotalSeconds
try {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    Read-BlockDevice -Path $Image -OutFile $Copy -ErrorAction Stop
    $clock.Stop()
    "cmdlet {0:F6}" -f $clock.Elapsed.TotalSeconds
}
catch {
    "error {0}: {1}" -f $_.FullyQualifiedErrorId, $_.Exception.Message
}
PS1

# Counts the progress records of one -OutFile copy, as a host would receive them.
cat > "$work/progress.ps1" <<'PS1'
param([string] $Module, [string] $Image, [string] $Copy)
$ps = [powershell]::Create()
$null = $ps.AddScript("Import-Module '$Module'; Read-BlockDevice -Path '$Image' -OutFile '$Copy'")
try { $null = $ps.Invoke() } catch { "error {0}" -f $_.Exception.InnerException.Message; return }
if ($ps.Streams.Error.Count) { "error {0}" -f $ps.Streams.Error[0]; return }
$records = @($ps.Streams.Progress)
$last = if ($records.Count) { $records[-1] } else { $null }
"progress {0} records, {1} with a percentage, last: {2}" -f $records.Count, @($records | Where-Object PercentComplete -ge 0).Count,
    $(if ($last) { "$($last.RecordType) $($last.PercentComplete)% '$($last.StatusDescription)'" } else { 'none' })
PS1

now() { date +%s.%N; }
mbs() { awk -v b="$bytes" -v t="$1" 'BEGIN { if (t > 0) printf "%.1f", b / t / 1e6; else print "FAIL" }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "FAIL"; exit } if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
dd_mbs() { dd "$@" bs=1M 2>&1 | awk '/copied/ { for (i = 1; i <= NF; i++) { if ($i == "bytes") b = $(i-1); if ($i == "s,") t = $(i-1) } printf "%.1f", b / t / 1e6 }'; }
failed=0
declare -A results

record() { results[$1]+="$2"$'\n'; }

for image in "$sparse" "$filled"; do
    kind=$(basename "$image" .img)
    cat "$image" > /dev/null
    for ((run = 1; run <= RUNS; run++)); do
        copy="$work/copy.bin"

        out=$("${bench[@]}" block-read "$image" 2>&1) && record "$kind core-read" "$(tail -n 1 <<<"$out" | awk '{print $1}')" \
            || { echo "block-read failed: $out" >&2; failed=1; }

        out=$("${bench[@]}" block-copy "$image" "$copy" 2>&1) && record "$kind core-copy" "$(tail -n 1 <<<"$out" | awk '{print $1}')" \
            || { echo "block-copy failed: $out" >&2; failed=1; }
        rm -f "$copy"

        start=$(now)
        out=$(pwsh -NoProfile -NonInteractive -File "$work/cmdlet.ps1" "$module" "$image" "$copy" 2>&1)
        total=$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')
        seconds=$(awk '$1 == "cmdlet" { print $2 }' <<<"$out")
        if [[ -n $seconds ]]; then
            record "$kind cmdlet" "$(mbs "$seconds")"
            record "startup" "$(awk -v t="$total" -v c="$seconds" 'BEGIN { printf "%.3f", t - c }')"
            record "import" "$(awk '$1 == "import" { print $2 }' <<<"$out")"
            if ((run == 1)); then
                if cmp -s "$image" "$copy" && [[ $(stat -c %s "$copy") == "$bytes" ]]; then
                    echo "$kind: the cmdlet's copy is identical to the image ($bytes bytes)"
                else
                    echo "$kind: the cmdlet's copy DIFFERS from the image (size $(stat -c %s "$copy" 2>/dev/null || echo none))" >&2
                    failed=1
                fi
            fi
        else
            echo "$kind run $run: Read-BlockDevice failed: $(grep -v '^import' <<<"$out" | head -n 3)" >&2
            failed=1
        fi
        rm -f "$copy"

        out=$(pwsh -NoProfile -NonInteractive -File "$work/cmdlet.ps1" "$module" "$image" /dev/null 2>&1)
        seconds=$(awk '$1 == "cmdlet" { print $2 }' <<<"$out")
        if [[ -n $seconds ]]; then
            record "$kind cmdlet-null" "$(mbs "$seconds")"
        else
            echo "$kind run $run: Read-BlockDevice -OutFile /dev/null failed: $(grep -v '^import' <<<"$out" | head -n 3)" >&2
            failed=1
        fi
        [[ -c /dev/null ]] || { echo "/dev/null is no longer a character device" >&2; failed=1; }

        record "$kind dd" "$(dd_mbs if="$image" of="$copy")"
        rm -f "$copy"

        start=$(now)
        cp "$image" "$copy"
        record "$kind cp" "$(mbs "$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')")"
        rm -f "$copy"
    done
    progress=$(pwsh -NoProfile -NonInteractive -File "$work/progress.ps1" "$module" "$image" "$work/progress.bin" 2>&1)
    echo "$kind: Write-Progress: $progress"
    # Transfers under 16 MiB show no progress bar (by design); larger ones at least the bar's completion.
    if [[ $progress != progress* ]] || { ((size_mib >= 16)) && [[ $progress == "progress 0 records"* ]]; }; then
        echo "$kind: no progress was shown" >&2
        failed=1
    fi
    rm -f "$work/progress.bin"
done

med() { printf '%s' "${results[$1]:-}" | grep -v '^$' | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }
echo
echo "Read-BlockDevice -Path -OutFile, ${size_mib} MiB image, page cache, median of $RUNS runs (MB/s = 10^6 B/s)"
printf '%-7s %9s %9s %9s %9s %9s %9s %10s %11s %9s\n' image core-read core-copy cmdlet-nul cmdlet dd "cp*" "nul/read" "cmdlet/copy" "cmdlet/dd"
for kind in sparse filled; do
    read_mbs=$(med "$kind core-read"); copy_mbs=$(med "$kind core-copy"); cmdlet_mbs=$(med "$kind cmdlet")
    null_mbs=$(med "$kind cmdlet-null"); dd_m=$(med "$kind dd"); cp_m=$(med "$kind cp")
    printf '%-7s %9s %9s %9s %9s %9s %9s %10s %11s %9s\n' "$kind" "$read_mbs" "$copy_mbs" "$null_mbs" "$cmdlet_mbs" "$dd_m" "$cp_m" \
        "$(ratio "$null_mbs" "$read_mbs")" "$(ratio "$cmdlet_mbs" "$copy_mbs")" "$(ratio "$cmdlet_mbs" "$dd_m")"
done
echo "pwsh start-up + Import-Module (excluded above): median $(med startup) s, of which Import-Module $(med import) s"
echo "cp* skips the holes of a sparse source (SEEK_DATA), so its sparse figure is not a copy of 1 GiB"
echo "like with like: cmdlet-nul (-OutFile /dev/null) beside core-read (both read and write nothing), cmdlet beside core-copy"
echo "target: the cmdlet >= 0.8x the core"
exit $failed
