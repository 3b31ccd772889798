using System.Runtime.InteropServices;

namespace VirtualDevices.XenLab.Devices;

/// <summary>struct lab_rsp of guest-peer.c.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct LabResponse
{
    public uint Seq;
    public uint Sum;
    public fixed byte Data[GuestPeerProtocol.PayloadBytes];
}
