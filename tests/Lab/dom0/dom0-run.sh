#!/bin/sh
# Runs inside dom0 (from the payload disk, /lab): starts Xen's services the way the run asked (/lab/lab.conf), sets
# up the guest, runs the test commands (/lab/commands/*.sh) one by one, keeps their check lines, then writes every
# result onto the results disk (/dev/vdc, a tar stream) and powers off. Check lines are "name<TAB>pass|fail|skip<TAB>
# message" on a command's stdout; everything else a command prints goes to its log.
export PATH=/lab/dotnet:/lab/tools:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root DOTNET_ROOT=/lab/dotnet DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 \
  POWERSHELL_TELEMETRY_OPTOUT=1 POWERSHELL_UPDATECHECK=Off TERM=dumb
. /lab/lab.conf
R=/results
mkdir -p $R
say() { echo "lab-dom0: $*"; echo "$(date +%T) $*" >> $R/harness.log; }
check() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> $R/results.txt; say "check $1 $2 $3"; }

finish() {
  dmesg > $R/dmesg.log 2>&1
  xl dmesg > $R/xl-dmesg.log 2>&1
  cp -r /var/log/xen $R/xen-logs 2>/dev/null
  say "writing results"
  tar -cf /dev/vdc -C $R . && sync
  echo "lab-dom0: results written"
  busybox poweroff -f
}

say "dom0 up after $(cut -d' ' -f1 /proc/uptime) s; xenstored=$LAB_XENSTORED guest=$LAB_GUEST backends=$LAB_BACKENDS"

# Xen's services. XENSTORED in /etc/default/xen picks the daemon: oxenstored is the init script's default.
case "$LAB_XENSTORED" in
  c) daemon=/usr/lib/xen-4.17/bin/xenstored ;;
  oxenstored) daemon=/usr/lib/xen-4.17/bin/oxenstored ;;
  *) daemon= ;;
esac
{
  echo "XENSTORED=$daemon"
  # Guest consoles are logged to /var/log/xen/console/guest-NAME.log (what lab-guest.sh prints comes back).
  echo "XENCONSOLED_ARGS=--log=guest"
} > /etc/default/xen
mkdir -p /var/log/xen/console
for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd bridge loop; do modprobe $m; done
if [ "$LAB_BACKENDS" = kernel ]; then modprobe xen-blkback; modprobe xen-netback; fi
if /etc/init.d/xen start > $R/xen-start.log 2>&1 && xenstore-read /local/domain/0/name > /dev/null 2>&1; then
  running=$(ps -eo comm | grep -m1 -E '^(o?xenstored)$')
  if [ -n "$daemon" ] && [ "$running" != "$(basename $daemon)" ]; then
    check lab.xen-start fail "asked for $(basename $daemon) but $running runs"
  else
    check lab.xen-start pass "$running, xl info: $(xl info | awk '/^xen_version/{print $3}')"
  fi
else
  check lab.xen-start fail "xen services did not start: $(tail -3 $R/xen-start.log | tr '\n' ' ')"
  finish
fi
export LAB_XENSTORED_DAEMON="$running"

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
  if [ "$LAB_BACKENDS" = kernel ]; then
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
  fi
fi

# The test commands, in order. Each runs with a time limit; its exit status is a check of its own, so a program that
# dies after printing some lines still fails.
for cmd in /lab/commands/*.sh; do
  [ -e "$cmd" ] || continue
  n=$(basename "$cmd" .sh)
  limit=$(cat /lab/commands/$n.timeout 2>/dev/null || echo 600)
  say "running command $n: $(tail -1 $cmd)"
  start=$(cut -d' ' -f1 /proc/uptime)
  cd /lab
  timeout -k 5 "$limit" sh "$cmd" > $R/$n.out 2> $R/$n.err < /dev/null
  status=$?
  end=$(cut -d' ' -f1 /proc/uptime)
  secs=$(awk "BEGIN { printf \"%.1f\", $end - $start }")
  grep -E "$(printf '^[^\t]+\t(pass|fail|skip)\t')" $R/$n.out >> $R/results.txt
  lines=$(grep -c -E "$(printf '^[^\t]+\t(pass|fail|skip)\t')" $R/$n.out)
  case $status in
    0) check "lab.command.$n" pass "exit 0 after $secs s, $lines check lines" ;;
    124|137) check "lab.command.$n" fail "timed out after $limit s ($lines check lines); stderr: $(tail -c 300 $R/$n.err | tr '\n\t' '  ')" ;;
    *) check "lab.command.$n" fail "exit $status after $secs s ($lines check lines); stderr: $(tail -c 300 $R/$n.err | tr '\n\t' '  ')" ;;
  esac
done

if xl list lab-guest > /dev/null 2>&1; then xl destroy lab-guest; fi
finish
