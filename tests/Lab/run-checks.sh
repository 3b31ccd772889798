#!/usr/bin/env bash
# The lab's checks as CI runs them (.ci/run calls this): builds the module and the check programs, boots the Xen lab
# (tests/Lab/xen-lab.sh) once per xenstore daemon, C xenstored then oxenstored, runs every check program in dom0 in
# each boot, and writes all their check lines, each name prefixed by its daemon ("oxenstored/xenstore.socket.watch"),
# to one results file that the xunit suite turns into test results (tests/VirtualDevices.Core.Tests/XenLab).
#
#   tests/Lab/run-checks.sh [--results FILE] [--logs DIR] [--daemons 'c oxenstored'] [--serial] [--verbose]
#
# Default results: out/xen-lab/results.txt; logs (console, each command's output, dmesg...) in out/xen-lab/logs/<daemon>.
# Exit status: 0 when every check passed or skipped, 1 otherwise.
#
# ADDING A CHECK PROGRAM: build it below (next to the xenstore checks), then add its files to `adds` (copied into
# dom0 at /lab/NAME) and its command line to `runs` (run from /lab; print check lines, exit 0). A program that needs a
# guest or the kernel's backends gets a boot of its own: call xen-lab.sh with --guest/--backends (see its header).
# The whole script is one block, which bash reads completely before running it: editing this file while a lab
# runs cannot change what that run does.
{
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
results=out/xen-lab/results.txt logs=out/xen-lab/logs daemons="c oxenstored" extra=() serial=0
while [ $# -gt 0 ]; do
  case "$1" in
    --results) results=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --daemons) daemons=$2; shift 2 ;;
    --verbose) extra+=(--verbose); shift ;;
    --serial) serial=1; shift ;;
    *) echo "run-checks: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$(dirname "$results")"
rm -f "$results"
fail_all() { printf 'lab.build\tfail\t%s\n' "$1" > "$results"; echo "run-checks: $1" >&2; exit 1; }

start=$(date +%s)
echo "run-checks: building the module and the check programs" >&2
dotnet build src/VirtualDevices.PowerShell -c Release -nologo -v q > "$(dirname "$results")/build.log" 2>&1 \
  || fail_all "dotnet build src/VirtualDevices.PowerShell failed: $(tail -5 "$(dirname "$results")/build.log" | tr '\n\t' '  ')"
for program in VirtualDevices.XenLab.Checks VirtualDevices.XenLab.Devices; do
  dotnet build "tests/$program" -c Release -nologo -v q >> "$(dirname "$results")/build.log" 2>&1 \
    || fail_all "dotnet build tests/$program failed: $(tail -5 "$(dirname "$results")/build.log" | tr '\n\t' '  ')"
done

adds=(
  "tests/VirtualDevices.XenLab.Checks/bin/Release/net10.0=checks"
  "tests/Lab/checks/Xenstore.Checks.ps1=checks-ps/Xenstore.Checks.ps1"
  "tests/VirtualDevices.XenLab.Devices/bin/Release/net10.0=devices"
)
runs=(
  "dotnet checks/VirtualDevices.XenLab.Checks.dll"
  "pwsh -NoProfile -NonInteractive -File checks-ps/Xenstore.Checks.ps1"
  "dotnet devices/VirtualDevices.XenLab.Devices.dll"
)
args=()
for a in "${adds[@]}"; do args+=(--add "$a"); done
for r in "${runs[@]}"; do args+=(--run "$r"); done

# The image first (cached; built once, under the cache's exclusive lock), then the boots.
"$here/xen-lab.sh" --build-only || fail_all "the lab image could not be built (tests/Lab/xen-lab.sh --build-only)"
# The boots run side by side: each QEMU is mostly one busy emulated CPU, and the two together take about the time of
# the slower one instead of the sum (--serial runs them one after the other).
status=0 pids=() outs=() names=()
for daemon in $daemons; do
  name=$([ "$daemon" = c ] && echo cxenstored || echo "$daemon")
  one=$(mktemp)
  "$here/xen-lab.sh" --xenstored "$daemon" "${args[@]}" --results "$one" --logs "$logs/$name" "${extra[@]}" 2>&1 | sed -u "s|^xen-lab:|xen-lab[$name]:|" >&2 &
  pids+=($!) outs+=("$one") names+=("$name")
  if [ "$serial" = 1 ]; then wait "$!" || true; fi
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || true
  grep -q "$(printf '\tfail\t')" "${outs[$i]}" 2>/dev/null && status=1
  [ -s "${outs[$i]}" ] || { printf 'lab.results\tfail\tno result file came back\n' > "${outs[$i]}"; status=1; }
  sed "s|^|${names[$i]}/|" "${outs[$i]}" >> "$results"
  rm -f "${outs[$i]}"
done
echo "run-checks: $(wc -l < "$results") check lines in $results after $(( $(date +%s) - start )) s" >&2
exit "$status"
exit
}
