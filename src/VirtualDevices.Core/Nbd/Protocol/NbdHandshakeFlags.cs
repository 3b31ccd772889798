namespace VirtualDevices.Nbd.Protocol;

/// <summary>Handshake flags (server, 16 bits) and client flags (32 bits) share these bit positions.</summary>
[Flags]
internal enum NbdHandshakeFlags : uint
{
    None = 0,
    FixedNewstyle = 1 << 0,
    NoZeroes = 1 << 1,
}
