#!/bin/sh
# Runs inside the lab's PV guest (put on its disk as lab-guest.sh by xen-lab.sh --guest-script); its output is in
# dom0's /var/log/xen/console/guest-lab-guest.log, each line prefixed "lab-guest: ".
echo "hello from the guest: kernel $(uname -r), disk $(cat /sys/class/block/xvda/size) sectors"
