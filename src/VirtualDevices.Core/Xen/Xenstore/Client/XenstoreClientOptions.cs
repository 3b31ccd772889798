namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>How <see cref="XenstoreClient"/> connects and behaves.</summary>
public sealed record XenstoreClientOptions
{
    /// <summary>The default socket of xenstored.</summary>
    public const string DefaultSocketPath = "/var/run/xenstored/socket";

    /// <summary>The xenbus device of a Xen guest.</summary>
    public const string DefaultDevicePath = "/dev/xen/xenbus";

    /// <summary>The environment variable libxenstore and the xenstore tools read the socket path from.</summary>
    public const string SocketPathVariable = "XENSTORED_PATH";

    /// <summary>
    /// The unix socket of xenstored. When null: <c>XENSTORED_PATH</c>, else <see cref="DefaultSocketPath"/>, else (if
    /// that socket does not exist) the xenbus device.
    /// </summary>
    public string? SocketPath { get; init; }

    /// <summary>The xenbus device to use instead of a socket (a Xen guest's <c>/dev/xen/xenbus</c>).</summary>
    public string? DevicePath { get; init; }

    /// <summary>
    /// Reconnect when a socket connection drops (xenstored restarted), waiting requests until then and registering the
    /// watches again. A device or in-process connection is never reconnected.
    /// </summary>
    public bool Reconnect { get; init; } = true;

    /// <summary>How long a request waits for a reconnection before it fails with a connection error.</summary>
    public TimeSpan ReconnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Watch events kept for a watch whose consumer lags; past this the oldest are dropped (watches may
    /// coalesce: a consumer re-reads the state anyway).</summary>
    public int WatchEventCapacity { get; init; } = 4096;

    /// <summary>
    /// How long the reader polls for a reply it is waiting for before blocking in the kernel. On an idle host a
    /// local daemon answers within microseconds while waking a blocked thread costs 20 µs or more, so a short spin
    /// (20-50 µs) saves that wake-up; on a host whose cores are contended the spin takes CPU from the daemon and
    /// loses (measured on a shared 2-core machine), hence the default of zero: block at once, as libxenstore does.
    /// </summary>
    public TimeSpan SpinDuration { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// By default a reply resumes the awaiting code on the client's reader thread, which saves a thread wake-up per
    /// request. Set this when awaiting code may block that thread (waiting synchronously on another xenstore request
    /// from inside a continuation would deadlock it); continuations then run on the thread pool.
    /// </summary>
    public bool RunContinuationsAsynchronously { get; init; }
}
