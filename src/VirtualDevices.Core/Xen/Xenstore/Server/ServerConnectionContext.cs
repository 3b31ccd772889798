using VirtualDevices.IO.Polling;

using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// What every connection of one server shares: the poll loop serving them, the options, and buffers that are only
/// touched one request at a time (on the loop's thread, or under the tree's lock), so that an idle connection costs
/// a few hundred bytes instead of the 64 KiB input and 7 KiB scratch buffers it would need of its own.
/// </summary>
internal sealed class ServerConnectionContext
{
    /// <summary>Bytes read from a connection per receive.</summary>
    internal const int ReceiveSize = 64 * 1024;

    internal ServerConnectionContext(PollLoop loop, XenstoreServerOptions options)
    {
        Loop = loop;
        Options = options;
    }

    internal PollLoop Loop { get; }

    internal XenstoreServerOptions Options { get; }

    /// <summary>
    /// The receive buffer (loop thread only): a connection's partial message, then up to <see cref="ReceiveSize"/>
    /// new bytes.
    /// </summary>
    internal byte[] Input { get; } = new byte[ReceiveSize + XenstoreLimits.HeaderSize + XenstoreLimits.PayloadMax];

    /// <summary>Scratch space for the current request's absolute path (under the tree's lock).</summary>
    internal byte[] PathScratch { get; } = new byte[XenstoreLimits.AbsolutePathMax + 64];

    /// <summary>Scratch space to build a reply payload (under the tree's lock).</summary>
    internal byte[] ReplyScratch { get; } = new byte[XenstoreLimits.PayloadMax + 64];
}
