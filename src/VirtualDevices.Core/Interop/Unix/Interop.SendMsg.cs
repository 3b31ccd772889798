namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>sendmsg(2)</c>: a message and, in its control data, descriptors (<see cref="SCM_RIGHTS"/>).</summary>
    [LibraryImport(Libc, EntryPoint = "sendmsg", SetLastError = true)]
    internal static unsafe partial nint SendMsg(SafeHandle socket, MsgHdr* message, int flags);
}
