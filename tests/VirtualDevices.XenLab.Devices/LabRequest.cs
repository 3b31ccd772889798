using System.Runtime.InteropServices;

namespace VirtualDevices.XenLab.Devices;

/// <summary>struct lab_req of guest-peer.c.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct LabRequest
{
    public uint Seq;
    public uint Len;
    public fixed byte Data[GuestPeerProtocol.PayloadBytes];
}
