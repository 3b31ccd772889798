namespace VirtualDevices.Xen.Loopback;

/// <summary>The status of a reply of the loopback hypervisor (0: done); each failure has its error id on the domain's side.</summary>
internal enum LoopbackStatus
{
    Ok = 0,
    ProtocolError = 1,
    DomainIdInUse = 2,
    DomainNotFound = 3,
    GrantNotFound = 4,
    GrantReadOnly = 5,
    PortNotFound = 6,
    NotJoined = 7,
    SystemCallFailed = 8,
}
