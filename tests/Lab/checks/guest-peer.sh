#!/bin/sh
# Runs inside the lab's PV guest (lab-guest.sh on its disk, from tests/Lab/run-checks.sh): loads the Xen device
# modules the guest's ramdisk lacks (modules/ on the same disk, from dom0's image: xen-lab.sh --guest-modules), then
# starts guest-peer (tests/c/xen-guest/guest-peer.c, static), dom0's other end for the guest checks of
# tests/VirtualDevices.XenLab.Devices, in the background: the guest's init prints "ready" once this script returns.
# guest-peer's own lines go to the guest's console (dom0: /var/log/xen/console/guest-lab-guest.log).
d=$(dirname "$0")
if [ -f "$d/modules/modules.list" ]; then
  for m in $(cat "$d/modules/modules.list"); do insmod "$d/modules/$m" || echo "insmod $m failed"; done
else
  echo "no modules/modules.list on the guest disk"
fi
# devtmpfs makes the nodes as the modules register them.
for i in $(seq 1 50); do [ -e /dev/xen/gntalloc ] && [ -e /dev/xen/gntdev ] && [ -e /dev/xen/evtchn ] && break; sleep 0.1; done
echo "devices: $(ls /dev/xen | tr '\n' ' ')"
if [ -x "$d/guest-peer" ]; then
  # A copy in the ramdisk: the disk is unmounted after this script.
  mkdir -p /tmp && cp "$d/guest-peer" /tmp/guest-peer
  /tmp/guest-peer < /dev/null > /dev/console 2>&1 &
  echo "guest-peer started (pid $!)"
else
  echo "no guest-peer on the guest disk"
fi
