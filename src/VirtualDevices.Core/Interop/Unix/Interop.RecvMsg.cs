namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>recvmsg(2)</c>: a message and the descriptors passed with it, installed in this process.</summary>
    [LibraryImport(Libc, EntryPoint = "recvmsg", SetLastError = true)]
    internal static unsafe partial nint RecvMsg(SafeHandle socket, MsgHdr* message, int flags);
}
