namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>send(2)</c>: with <see cref="MSG_DONTWAIT"/>, a send that takes what fits now and never blocks.</summary>
    [LibraryImport(Libc, EntryPoint = "send", SetLastError = true)]
    internal static unsafe partial nint Send(SafeHandle socket, byte* buffer, nuint length, int flags);

    /// <summary>
    /// Linux <c>MSG_NOSIGNAL</c>: a send to a peer that has gone fails with EPIPE instead of raising SIGPIPE (the
    /// runtime ignores SIGPIPE too; this does not depend on it). macOS has no such flag.
    /// </summary>
    internal static readonly int MSG_NOSIGNAL = OperatingSystem.IsLinux() ? 0x4000 : 0;
}
