namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>SOL_SOCKET</c>: the level of socket-wide options.</summary>
    internal static readonly int SOL_SOCKET = OperatingSystem.IsMacOS() ? 0xffff : 1;

    /// <summary>
    /// <c>SO_REUSEADDR</c>, set through <see cref="System.Net.Sockets.Socket.SetRawSocketOption"/>: .NET's own
    /// ReuseAddress option also sets SO_REUSEPORT on Unix, which lets a second listener share a port already in use.
    /// </summary>
    internal static readonly int SO_REUSEADDR = OperatingSystem.IsMacOS() ? 4 : 2;
}
