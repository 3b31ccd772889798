namespace VirtualDevices.Interop;

/// <summary>An owned Unix file descriptor, closed exactly once, kept alive while a syscall uses it.</summary>
internal sealed class SafeFileDescriptor : SafeHandle
{
    /// <summary>Used by the marshaller for return values.</summary>
    public SafeFileDescriptor()
        : base(new IntPtr(-1), ownsHandle: true)
    {
    }

    /// <summary>Wraps an existing descriptor.</summary>
    public SafeFileDescriptor(int fd, bool ownsHandle)
        : base(new IntPtr(-1), ownsHandle)
    {
        SetHandle(new IntPtr(fd));
    }

    public override bool IsInvalid => (int)handle < 0;

    /// <summary>The raw descriptor number; valid only while the handle is referenced.</summary>
    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => Unix.Close((int)handle) == 0;
}
