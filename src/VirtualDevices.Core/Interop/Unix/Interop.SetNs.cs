namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// <c>setns(2)</c> (Linux): moves the calling thread (only it) into the namespace of <paramref name="fd"/>, an open
    /// <c>/var/run/netns/NAME</c> or <c>/proc/PID/ns/net</c>.
    /// </summary>
    [LibraryImport(Libc, EntryPoint = "setns", SetLastError = true)]
    internal static partial int SetNs(SafeFileDescriptor fd, int namespaceType);
}
