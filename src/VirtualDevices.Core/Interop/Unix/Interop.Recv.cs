namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// <c>recv(2)</c>: with <see cref="MSG_DONTWAIT"/>, a receive that does not block on a socket that otherwise stays
    /// blocking (its other users keep their blocking calls; no <c>O_NONBLOCK</c> toggling).
    /// </summary>
    [LibraryImport(Libc, EntryPoint = "recv", SetLastError = true)]
    internal static unsafe partial nint Recv(SafeHandle socket, byte* buffer, nuint length, int flags);

    /// <summary><c>MSG_DONTWAIT</c>: this call does not block (EAGAIN instead).</summary>
    internal static readonly int MSG_DONTWAIT = OperatingSystem.IsMacOS() ? 0x80 : 0x40;
}
