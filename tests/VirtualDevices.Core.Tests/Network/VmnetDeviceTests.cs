using System.Runtime.InteropServices;
using VirtualDevices.Interop;
using VirtualDevices.Network;
using VirtualDevices.Network.Vmnet;

namespace VirtualDevices.Tests.Network;

/// <summary>
/// What of the macOS vmnet driver can be checked on Linux: it says plainly that it is macOS's, and its native layouts
/// are those of the ABIs it follows (the Clang blocks ABI's block literal and descriptor, vmnet.h's vmpktdesc and
/// sys/uio.h's iovec, for 64-bit macOS). The driver itself has never run: there is no Mac here.
/// </summary>
public sealed class VmnetDeviceTests
{
    [Fact]
    public void StartingAVmnetInterfaceOffMacOSIsATypedUnsupportedError()
    {
        Assert.True(OperatingSystem.IsLinux(), "this check runs off macOS (the suite runs on Linux)");
        DeviceException error = Assert.Throws<DeviceException>(() => VmnetDevice.Start(new VirtualInterfaceOptions()));
        Assert.Equal(DeviceErrorIds.Network.InterfaceUnsupported, error.ErrorId);
        Assert.Equal(DeviceErrorCategory.NotImplemented, error.Category);
    }

    [Fact]
    public void TheNativeLayoutsFollowTheBlocksAbiAndVmnetH()
    {
        Assert.Equal(8, IntPtr.Size); // vmnet exists on 64-bit macOS only (x86_64 and arm64)
        Assert.Equal(0, Marshal.OffsetOf<MacOS.BlockLiteral>(nameof(MacOS.BlockLiteral.Isa)).ToInt32());
        Assert.Equal(8, Marshal.OffsetOf<MacOS.BlockLiteral>(nameof(MacOS.BlockLiteral.Flags)).ToInt32());
        Assert.Equal(12, Marshal.OffsetOf<MacOS.BlockLiteral>(nameof(MacOS.BlockLiteral.Reserved)).ToInt32());
        Assert.Equal(16, Marshal.OffsetOf<MacOS.BlockLiteral>(nameof(MacOS.BlockLiteral.Invoke)).ToInt32());
        Assert.Equal(24, Marshal.OffsetOf<MacOS.BlockLiteral>(nameof(MacOS.BlockLiteral.Descriptor)).ToInt32());
        Assert.Equal(32, Marshal.OffsetOf<MacOS.BlockLiteral>(nameof(MacOS.BlockLiteral.Context)).ToInt32());
        Assert.Equal(16, Marshal.SizeOf<MacOS.BlockDescriptor>());
        Assert.Equal(24, Marshal.SizeOf<MacOS.VmPacketDescriptor>());
        Assert.Equal(8, Marshal.OffsetOf<MacOS.VmPacketDescriptor>(nameof(MacOS.VmPacketDescriptor.Iov)).ToInt32());
        Assert.Equal(16, Marshal.OffsetOf<MacOS.VmPacketDescriptor>(nameof(MacOS.VmPacketDescriptor.IovCount)).ToInt32());
        Assert.Equal(20, Marshal.OffsetOf<MacOS.VmPacketDescriptor>(nameof(MacOS.VmPacketDescriptor.Flags)).ToInt32());
        Assert.Equal(16, Marshal.SizeOf<MacOS.IOVec>());
        Assert.Equal(1 << 28, MacOS.BLOCK_IS_GLOBAL);
    }
}
