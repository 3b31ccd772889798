using VirtualDevices.Interop;

namespace VirtualDevices.Xen.Grants;

/// <summary>
/// What the two grant devices (<see cref="GrantAllocator"/>, <see cref="GrantMapper"/>) share: the open node, held
/// open by each <see cref="GrantPages"/> made through it, and the unmap notification both drivers take in the same
/// struct (their SET_UNMAP_NOTIFY ioctls differ only in the driver's letter).
/// </summary>
internal abstract class GrantDevice : IDisposable
{
    private readonly SafeFileDescriptor _fd;

    private protected GrantDevice(SafeFileDescriptor fd, string path)
    {
        _fd = fd;
        Path = path;
    }

    /// <summary>The device node.</summary>
    public string Path { get; }

    /// <summary>The open node.</summary>
    private protected SafeFileDescriptor Descriptor => _fd;

    /// <summary>Closes the device once every share or mapping made through it has been disposed (each holds it open).</summary>
    public void Dispose() => _fd.Dispose();

    /// <summary>Ends the device's part in the pages recorded at <paramref name="index"/> (the driver frees or unmaps them once every use has ended).</summary>
    internal abstract void Forget(ulong index, int pageCount);

    /// <summary>Sets what happens when the last local use of the page holding <paramref name="index"/> ends.</summary>
    internal abstract void SetUnmapNotify(ulong index, uint action, uint port);

    /// <summary>Issues the driver's SET_UNMAP_NOTIFY <paramref name="request"/>; a failure is <see cref="DeviceErrorIds.Xen.GrantUnmapNotifyFailed"/>.</summary>
    private protected unsafe void SetUnmapNotify(nuint request, ulong index, uint action, uint port, string failure)
    {
        var notify = new Unix.GrantUnmapNotify { Index = index, Action = action, EventChannelPort = port };
        if (Unix.Ioctl(_fd, request, &notify) < 0)
        {
            throw new XenDeviceException(DeviceErrorIds.Xen.GrantUnmapNotifyFailed, Path, Marshal.GetLastPInvokeError(), failure);
        }
    }

    /// <summary>Keeps the descriptor open for a share or mapping (released by <see cref="Release"/>).</summary>
    internal void AddReference()
    {
        bool added = false;
        _fd.DangerousAddRef(ref added);
    }

    /// <summary>Ends a share's or mapping's hold on the descriptor.</summary>
    internal void Release() => _fd.DangerousRelease();
}
