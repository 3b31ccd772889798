namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>write(2)</c>: used on character devices such as <c>/dev/xen/xenbus</c>, which have no offset.</summary>
    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    internal static unsafe partial nint Write(SafeFileDescriptor fd, byte* buffer, nuint count);
}
