#!/bin/sh
# Runs inside dom0 (from the payload disk, /lab): starts Xen's services the way the run asked (/lab/lab.conf), sets
# up the guest, runs the test commands (/lab/commands/*.sh) one by one, keeps their check lines, then writes every
# result onto the results disk (/dev/vdc, a tar stream) and powers off. Check lines are "name<TAB>pass|fail|skip<TAB>
# message" on a command's stdout; everything else a command prints goes to its log.
#
# LAB_XENSTORED may name several daemons ("c oxenstored"): the commands then run once per daemon in this one boot,
# the daemon switched in between (guests destroyed, xenconsoled and xenstored stopped, the next daemon started by
# Xen's init script), and every check line of a round is prefixed by its daemon ("cxenstored/xenstore.socket.watch").
# A second boot costs a whole Xen + dom0 start under emulation; the switch costs about a second.
# Phase timings (seconds of dom0 uptime) go to /results/timings.txt, "phase<TAB>start<TAB>seconds".
export PATH=/lab/dotnet:/lab/tools:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root DOTNET_ROOT=/lab/dotnet DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 \
  POWERSHELL_TELEMETRY_OPTOUT=1 POWERSHELL_UPDATECHECK=Off TERM=dumb
. /lab/lab.conf
R=/results
mkdir -p $R
now() { cut -d' ' -f1 /proc/uptime; }
say() { echo "lab-dom0: $*"; echo "$(now) $*" >> $R/harness.log; }
prefix=
# Every result line also goes to the console as "lab-result<TAB>line": when QEMU is killed at its overall limit, the
# host still has the lines of the commands that finished.
result() { tee -a $R/results.txt | sed 's/^/lab-result	/'; }
check() { printf '%s%s\t%s\t%s\n' "$prefix" "$1" "$2" "$3" | result; say "check $prefix$1 $2 $3"; }
# phase NAME START: one line of timings.txt, from START (a now) to now.
phase() { awk -v n="$1" -v s="$2" -v e="$(now)" 'BEGIN { printf "%s\t%.1f\t%.1f\n", n, s, e - s }' >> $R/timings.txt; }

finish() {
  t=$(now)
  dmesg > $R/dmesg.log 2>&1
  xl dmesg > $R/xl-dmesg.log 2>&1
  cp -r /var/log/xen $R/xen-logs 2>/dev/null
  phase logs "$t"
  say "writing results"
  tar -cf /dev/vdc -C $R . && sync
  echo "lab-dom0: results written"
  busybox poweroff -f
}

booted=$(now)
echo "boot	0.0	$booted" >> $R/timings.txt
say "dom0 up after $booted s; xenstored=$LAB_XENSTORED guest=$LAB_GUEST backends=$LAB_BACKENDS"
mkdir -p /var/log/xen/console
t=$(now)
for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd bridge loop; do modprobe $m; done
if [ "$LAB_BACKENDS" = kernel ]; then modprobe xen-blkback; modprobe xen-netback; fi
phase modules "$t"

# Stops what a round started, so that the next daemon starts on a clean dom0: the guests, xenconsoled (the init
# script's stop), then xenstored itself (the init script never stops it) and its files. The kernel's end of dom0's
# xenstore ring stays: the next daemon maps the same page and binds the same event channel (/proc/xen/xsd_kva,
# xsd_port), which the closed one left unbound.
stop_xen() {
  for d in $(xl list 2>/dev/null | awk 'NR > 1 && $2 != 0 { print $1 }'); do timeout 60 xl destroy "$d"; done
  /etc/init.d/xen stop > $R/xen-stop.log 2>&1
  pid=$(cat /run/xenstore.pid 2>/dev/null)
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  for i in $(seq 1 100); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  pkill -9 -x xenstored 2>/dev/null; pkill -9 -x oxenstored 2>/dev/null
  rm -rf /run/xenstore.pid /run/xen/xenstored.pid /run/xenstored /var/run/xenstored /var/lib/xenstored/*
}

# Starts Xen's services with one daemon; XENSTORED in /etc/default/xen picks it (oxenstored is the script's default).
# Fails (and says why) when the daemon that runs is not the one asked for.
start_xen() {
  case "$1" in
    c) daemon=/usr/lib/xen-4.17/bin/xenstored ;;
    oxenstored) daemon=/usr/lib/xen-4.17/bin/oxenstored ;;
    *) daemon= ;;
  esac
  {
    echo "XENSTORED=$daemon"
    # Guest consoles are logged to /var/log/xen/console/guest-NAME.log (what lab-guest.sh prints comes back).
    echo "XENCONSOLED_ARGS=--log=guest"
  } > /etc/default/xen
  if /etc/init.d/xen start > $R/xen-start.log 2>&1 && xenstore-read /local/domain/0/name > /dev/null 2>&1; then
    running=$(ps -eo comm | grep -m1 -E '^(o?xenstored)$')
    if [ -n "$daemon" ] && [ "$running" != "$(basename $daemon)" ]; then
      check lab.xen-start fail "asked for $(basename $daemon) but $running runs"
      return 1
    fi
    check lab.xen-start pass "$running, xl info: $(xl info | awk '/^xen_version/{print $3}')"
    return 0
  fi
  check lab.xen-start fail "xen services did not start: $(tail -3 $R/xen-start.log | tr '\n' ' ')"
  return 1
}

# The guest: a PV domain on the Debian kernel with the busybox ramdisk; vif on bridge xenbr0 (dom0 side 10.0.0.1),
# disk from /lab/guest-disk.img. With kernel backends it is created here; without, the test creates it itself
# (lab-guest create) while it serves the backend nodes.
if [ -n "$LAB_GUEST" ] && [ "$LAB_GUEST" != none ]; then
  ip link add xenbr0 type bridge && ip addr add 10.0.0.1/24 dev xenbr0 && ip link set xenbr0 up
  {
    echo 'name = "lab-guest"'
    echo 'type = "pv"'
    echo 'kernel = "/opt/lab/guest/vmlinuz"'
    echo 'ramdisk = "/opt/lab/guest/initrd.gz"'
    echo 'extra = "console=hvc0"'
    echo 'memory = 192'
    echo 'vcpus = 1'
    case "$LAB_GUEST" in *vif*) echo "vif = ['bridge=xenbr0,mac=00:16:3e:00:00:02']" ;; esac
    case "$LAB_GUEST" in *disk*) echo "disk = ['format=raw,vdev=xvda,access=rw,target=/lab/guest-disk.img']" ;; esac
  } > /etc/xen/lab-guest.cfg
  export LAB_GUEST_CONFIG=/etc/xen/lab-guest.cfg
fi

create_guest() {
  if timeout 120 xl create /etc/xen/lab-guest.cfg > $R/guest-create.log 2>&1; then
    LAB_GUEST_DOMID=$(xl domid lab-guest)
    export LAB_GUEST_DOMID
    for i in $(seq 1 600); do grep -q 'lab-guest: ready' /var/log/xen/console/guest-lab-guest.log 2>/dev/null && break; sleep 0.1; done
    if grep -q 'lab-guest: ready' /var/log/xen/console/guest-lab-guest.log 2>/dev/null; then
      check lab.guest-create pass "domain $LAB_GUEST_DOMID ready"
    else
      check lab.guest-create fail "domain $LAB_GUEST_DOMID did not print ready in 60 s"
    fi
  else
    check lab.guest-create fail "xl create: $(tail -3 $R/guest-create.log | tr '\n' ' ')"
  fi
}

# The test commands, in order. Each runs with a time limit; its exit status is a check of its own, so a program that
# dies after printing some lines still fails.
run_commands() {
  for cmd in /lab/commands/*.sh; do
    [ -e "$cmd" ] || continue
    n=$(basename "$cmd" .sh)
    limit=$(cat /lab/commands/$n.timeout 2>/dev/null || echo 600)
    say "running command $prefix$n: $(tail -1 $cmd)"
    start=$(now)
    cd /lab
    out=$R/${prefix%/}${prefix:+-}$n
    timeout -k 5 "$limit" sh "$cmd" > $out.out 2> $out.err < /dev/null
    status=$?
    phase "${prefix}command.$n" "$start"
    secs=$(awk -v s="$start" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }')
    grep -E "$(printf '^[^\t]+\t(pass|fail|skip)\t')" $out.out | sed "s|^|$prefix|" | result
    lines=$(grep -c -E "$(printf '^[^\t]+\t(pass|fail|skip)\t')" $out.out)
    case $status in
      0) check "lab.command.$n" pass "exit 0 after $secs s, $lines check lines" ;;
      124|137) check "lab.command.$n" fail "timed out after $limit s ($lines check lines); stderr: $(tail -c 300 $out.err | tr '\n\t' '  ')" ;;
      *) check "lab.command.$n" fail "exit $status after $secs s ($lines check lines); stderr: $(tail -c 300 $out.err | tr '\n\t' '  ')" ;;
    esac
  done
}

set -- $LAB_XENSTORED
rounds=$#
for xs in "$@"; do
  if [ "$rounds" -gt 1 ]; then prefix="$([ "$xs" = c ] && echo cxenstored || echo "$xs")/"; fi
  t=$(now)
  if [ -n "$started" ]; then stop_xen; fi
  started=1
  if ! start_xen "$xs"; then phase "${prefix}xen-start" "$t"; continue; fi
  phase "${prefix}xen-start" "$t"
  export LAB_XENSTORED="$xs" LAB_XENSTORED_DAEMON="$running"
  # LAB_GUEST_ROUNDS (xen-lab.sh --guest-rounds) may keep the guest to some daemons' rounds: a guest's boot under
  # emulation costs about as much CPU as dom0's. LAB_GUEST_THIS_ROUND tells the commands which kind of round runs.
  LAB_GUEST_THIS_ROUND=0
  unset LAB_GUEST_DOMID
  if [ -n "$LAB_GUEST_CONFIG" ] && [ "$LAB_BACKENDS" = kernel ] && { [ -z "$LAB_GUEST_ROUNDS" ] || echo " $LAB_GUEST_ROUNDS " | grep -q " $xs "; }; then
    LAB_GUEST_THIS_ROUND=1
    t=$(now); create_guest; phase "${prefix}guest-create" "$t"
  fi
  export LAB_GUEST_THIS_ROUND
  run_commands
done

if xl list lab-guest > /dev/null 2>&1; then xl destroy lab-guest; fi
finish
