#!/usr/bin/env bash
# The lab's checks as CI runs them (.ci/run calls this): builds the module and the check programs, boots the Xen lab
# (tests/Lab/xen-lab.sh) once, runs every check program in dom0 with C xenstored, switches dom0 to oxenstored and
# runs them again, and writes all their check lines, each name prefixed by its daemon ("oxenstored/xenstore.socket.
# watch"), to one results file that the xunit suite turns into test results (tests/VirtualDevices.Core.Tests/XenLab).
#
#   tests/Lab/run-checks.sh [--results FILE] [--logs DIR] [--daemons 'c oxenstored'] [--boot-per-daemon]
#                           [--timeout S] [--run-timeout S] [--verbose]
#
# Default results: out/xen-lab/results.txt; logs (console, each command's output, dmesg, timings.txt...) in
# out/xen-lab/logs (out/xen-lab/logs/<daemon> with --boot-per-daemon, which boots once per daemon, one after the
# other, as the lab did before the switch in one boot). --timeout S: the whole run's limit (default 900 s), builds
# included; QEMU gets what is left of it (a boot killed at the limit still reports the lines its finished commands
# printed, and a failing lab.results line). --run-timeout S: each check program's limit (default 420 s).
# Exit status: 0 when every check passed or skipped, 1 otherwise.
#
# THE GUEST: the first round (C xenstored) has a PV guest (xen-lab.sh --guest disk --backends kernel --guest-rounds c:
# the harness creates it after the daemon starts and destroys it at the round's end), whose disk carries guest-peer
# (tests/c/xen-guest) and the xen-evtchn/gntdev/gntalloc modules: the Devices program's guest.* checks meet it
# (LAB_GUEST_DOMID). xen-blkback and xen-netback are loaded in dom0 for its disk. One round only: the guest's boot
# costs QEMU about 80-100 CPU-seconds (as much as Xen and dom0's), too much to pay twice within the lab's 900 s. The
# first round because the kernel's backends watch xenstore from the daemon that ran when they loaded: after the
# switch to the second daemon, xen-blkback never sees a new disk ("unable to add device with path
# /local/domain/0/backend/vbd/2/51712", seen when the guest was in the oxenstored round).
#
# ADDING A CHECK PROGRAM: build it below (next to the xenstore checks), then add its files to `adds` (copied into
# dom0 at /lab/NAME) and its command line to `runs` (run from /lab; print check lines, exit 0). A program that needs
# the kernel's backends left unloaded gets a boot of its own: call xen-lab.sh with --guest/--backends (see its header).
# The whole script is one block, which bash reads completely before running it: editing this file while a lab
# runs cannot change what that run does.
{
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
results=out/xen-lab/results.txt logs=out/xen-lab/logs daemons="c oxenstored" extra=() per_daemon=0 limit=900 run_limit=420
while [ $# -gt 0 ]; do
  case "$1" in
    --results) results=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --daemons) daemons=$2; shift 2 ;;
    --verbose) extra+=(--verbose); shift ;;
    --boot-per-daemon) per_daemon=1; shift ;;
    --timeout) limit=$2; shift 2 ;;
    --run-timeout) run_limit=$2; shift 2 ;;
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

# The guest's end of the Devices program's guest checks: guest-peer, static (the guest is a busybox ramdisk), on the
# guest's disk with the Xen device modules its ramdisk lacks (from dom0's image: the image stays as it is). A peer
# that does not build leaves the guest without it: the guest checks then fail (guest.peer-ready), the rest run.
peer_dir=$(dirname "$results")/guest-peer
mkdir -p "$peer_dir"
gcc -static -O2 -Wall -Wextra -Werror -o "$peer_dir/guest-peer" tests/c/xen-guest/guest-peer.c >> "$(dirname "$results")/build.log" 2>&1 \
  || { echo "run-checks: gcc -static tests/c/xen-guest/guest-peer.c failed (see build.log): the guest checks will fail" >&2; rm -f "$peer_dir/guest-peer"; }
guest=(--guest disk --backends kernel --guest-rounds c --guest-script tests/Lab/checks/guest-peer.sh
  --guest-modules "xen-evtchn xen-gntdev xen-gntalloc")
[ -f "$peer_dir/guest-peer" ] && guest+=(--guest-add "$peer_dir/guest-peer=guest-peer")

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
# Each command's own limit: a hung check program must leave time for the others and for the next daemon's round.
args=(--run-timeout "$run_limit" "${guest[@]}")
for a in "${adds[@]}"; do args+=(--add "$a"); done
for r in "${runs[@]}"; do args+=(--run "$r"); done

# The image first (cached; built once, under the cache's exclusive lock), then the boot(s).
"$here/xen-lab.sh" --build-only || fail_all "the lab image could not be built (tests/Lab/xen-lab.sh --build-only)"
# QEMU's limit: what is left of the run's, less time to collect the results.
qemu_limit() {
  local left=$(( start + limit - $(date +%s) - 15 ))
  [ "$left" -ge 60 ] || left=60
  echo "$left"
}
status=0
if [ "$per_daemon" = 0 ] && [ "$(echo $daemons | wc -w)" -gt 1 ]; then
  # One boot, the daemons in turn: dom0 prefixes each line with its daemon. Under emulation a boot of Xen and dom0
  # costs about as much CPU as a daemon's round of checks, and this machine's 2 cores gain nothing from two QEMUs
  # side by side.
  "$here/xen-lab.sh" --xenstored "$daemons" --timeout "$(qemu_limit)" "${args[@]}" --results "$results" --logs "$logs" "${extra[@]}" || status=1
  [ -s "$results" ] || { printf 'lab.results\tfail\tno result file came back\n' > "$results"; status=1; }
else
  for daemon in $daemons; do
    name=$([ "$daemon" = c ] && echo cxenstored || echo "$daemon")
    one=$(mktemp)
    "$here/xen-lab.sh" --xenstored "$daemon" --timeout "$(qemu_limit)" "${args[@]}" --results "$one" --logs "$logs/$name" "${extra[@]}" 2>&1 | sed -u "s|^xen-lab:|xen-lab[$name]:|" >&2 || true
    grep -q "$(printf '\tfail\t')" "$one" 2>/dev/null && status=1
    [ -s "$one" ] || { printf 'lab.results\tfail\tno result file came back\n' > "$one"; status=1; }
    sed "s|^|$name/|" "$one" >> "$results"
    rm -f "$one"
  done
fi
grep -q "$(printf '\tfail\t')" "$results" && status=1
echo "run-checks: $(wc -l < "$results") check lines in $results after $(( $(date +%s) - start )) s" >&2
exit "$status"
exit
}
