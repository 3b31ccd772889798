#!/bin/sh
# A smoke check of the lab's guest mode (xen-lab.sh --guest vif,disk --backends kernel): the PV guest's
# xen-netfront and xen-blkfront met dom0's kernel backends. Prints check lines; run in dom0 by the harness:
#   tests/Lab/xen-lab.sh --guest vif,disk --backends kernel --guest-script tests/Lab/checks/guest-hello.sh \
#     --add tests/Lab/checks/guest-smoke.sh=guest-smoke.sh --run 'sh guest-smoke.sh' --no-pwsh --no-module
log=/var/log/xen/console/guest-lab-guest.log
check() { printf '%s\t%s\t%s\n' "$1" "$2" "$3"; }
[ -n "$LAB_GUEST_DOMID" ] || { check guest.domain fail "no LAB_GUEST_DOMID (did the harness create the guest?)"; exit 1; }
state() { xenstore-read "/local/domain/0/backend/$1/$LAB_GUEST_DOMID/$2/state" 2>/dev/null; }
vif=$(state vif 0); vbd=$(state vbd 51712)
[ "$vif" = 4 ] && check guest.vif-connected pass "vif backend state 4" || check guest.vif-connected fail "vif backend state '$vif'"
[ "$vbd" = 4 ] && check guest.vbd-connected pass "vbd backend state 4" || check guest.vbd-connected fail "vbd backend state '$vbd'"
if busybox ping -c 3 -W 5 10.0.0.2 > /tmp/ping.log 2>&1; then
  check guest.ping pass "$(tail -1 /tmp/ping.log)"
else
  check guest.ping fail "$(tail -2 /tmp/ping.log | tr '\n' ' ')"
fi
if grep -q 'lab-guest: hello from the guest' "$log"; then
  check guest.script pass "lab-guest.sh ran in the guest: $(grep -m1 'lab-guest: hello' "$log" | tr -d '\r')"
else
  check guest.script fail "no output of lab-guest.sh in $log: $(tail -c 300 "$log" | tr '\r\n' '  ')"
fi
