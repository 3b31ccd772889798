namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>read(2)</c>: used on character devices such as <c>/dev/xen/xenbus</c>, which have no offset.</summary>
    [LibraryImport(Libc, EntryPoint = "read", SetLastError = true)]
    internal static unsafe partial nint Read(SafeFileDescriptor fd, byte* buffer, nuint count);
}
