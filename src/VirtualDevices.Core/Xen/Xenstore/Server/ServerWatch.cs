namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>A watch registered by one connection.</summary>
internal sealed class ServerWatch
{
    internal ServerWatch(ServerConnection connection, byte[] absolutePath, byte[] requestedPath, byte[] token)
    {
        Connection = connection;
        AbsolutePath = absolutePath;
        RequestedPath = requestedPath;
        Token = token;
    }

    internal ServerConnection Connection { get; }

    /// <summary>The watched path made absolute (or the special path, such as <c>@releaseDomain</c>).</summary>
    internal byte[] AbsolutePath { get; }

    /// <summary>The path as the client sent it: events on a relative watch are reported relative too.</summary>
    internal byte[] RequestedPath { get; }

    internal byte[] Token { get; }

    /// <summary>Its place in the list of every watch, so that removing it costs O(1).</summary>
    internal LinkedListNode<ServerWatch>? Node { get; set; }

    internal bool IsRelative => RequestedPath.Length > 0 && RequestedPath[0] != (byte)'/' && RequestedPath[0] != (byte)'@';

    internal bool IsSpecial => AbsolutePath.Length > 0 && AbsolutePath[0] == (byte)'@';
}
