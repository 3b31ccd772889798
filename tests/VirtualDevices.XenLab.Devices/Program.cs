// The Xen device-node checks of the lab (issue 10), run inside dom0: /dev/xen/evtchn (two opens: an unbound port for
// domain 0 bound interdomain by the other, events both ways), /dev/xen/gntalloc (pages shared with domain 0 itself)
// and /dev/xen/gntdev (mapped back, written through one mapping and read through the other), driven through the
// core's Xen.EventChannels and Xen.Grants types; then the same through the interfaces split drivers use (IGrantTable,
// IEventChannels: XenGrantTable, XenEventChannels). Prints one check line per check ("name<TAB>pass|fail|skip<TAB>
// message", tests/Lab/xen-lab.sh's format); the exit status is 1 when a check failed.
//
// In the lab: tests/Lab/xen-lab.sh --add tests/VirtualDevices.XenLab.Devices/bin/Release/net10.0=devices \
//   --run 'dotnet devices/VirtualDevices.XenLab.Devices.dll'
using VirtualDevices.XenLab.Devices;

var checks = new Checks();
using (var events = new EventChannelChecks(checks))
{
    events.Run();
    using var grants = new GrantChecks(checks, events);
    grants.Run();
}

// The split drivers' interfaces (issue 11) over the same devices: XenGrantTable and XenEventChannels.
using (var interfaces = new InterfaceChecks(checks))
{
    interfaces.Run();
}

// The same interfaces with a real guest domain at the other end (the guest's peer: tests/c/xen-guest/guest-peer.c).
using (var guest = new GuestChecks(checks))
{
    guest.Run();
}

return checks.Failed == 0 ? 0 : 1;
