namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// Quotas and limits of the embedded xenstore server. The defaults are xenstored's. Quotas apply to unprivileged
/// domains only; dom0 is bound by the protocol limits alone, as with xenstored.
/// </summary>
public sealed class XenstoreServerOptions
{
    /// <summary>Nodes a domain may own (xenstored <c>quota-nb-entry-per-domain</c>); beyond it writes fail with ENOSPC.</summary>
    public int MaxEntriesPerDomain { get; init; } = 1000;

    /// <summary>Bytes of value a domain may store in one node (xenstored <c>quota-max-entry-size</c>); beyond it ENOSPC.</summary>
    public int MaxEntrySize { get; init; } = 2048;

    /// <summary>Watches a domain may hold (xenstored <c>quota-nb-watch-per-domain</c>); beyond it E2BIG.</summary>
    public int MaxWatchesPerDomain { get; init; } = 128;

    /// <summary>Open transactions a connection of a domain may hold (xenstored <c>quota-max-transaction</c>); beyond it ENOSPC.</summary>
    public int MaxTransactionsPerDomain { get; init; } = 10;

    /// <summary>
    /// Distinct nodes one transaction of a domain may read or change (xenstored's <c>transaction-nodes</c> quota,
    /// <c>--quota transaction-nodes=N</c>, 1024 by default). A request that would touch one more fails with ENOSPC and
    /// marks the transaction failed: its commit then fails with ENOMEM, as in xenstored, and applies nothing. Rewriting
    /// or rereading a node the transaction already touched does not count again.
    /// </summary>
    public int MaxTransactionNodes { get; init; } = 1024;

    /// <summary>Entries a domain may put in one permission list (xenstored <c>quota-nb-perms-per-node</c>); beyond it ENOSPC.</summary>
    public int MaxPermissionsPerNode { get; init; } = 5;

    /// <summary>
    /// Requests of one connection answered before their replies are sent (xenstored <c>quota-req-outstanding</c>): a
    /// client that pipelines more than this waits until its replies are written, so it cannot make the server queue
    /// unbounded replies.
    /// </summary>
    public int MaxOutstandingRequests { get; init; } = 20;

    /// <summary>
    /// Bytes of replies and watch events that may wait for a connection that does not read them; past this the server
    /// closes that connection, so a client that never reads its watch events cannot grow the server's memory.
    /// </summary>
    public int MaxPendingOutputBytes { get; init; } = 1 << 20;

    /// <summary>
    /// How long output to a connection may make no progress (the client reads none of it) before the connection is
    /// considered dead and closed. Checked once a second.
    /// </summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The longest the server's thread polls for the next request before it sleeps, adapted to the gaps between
    /// requests (it grows only while requests keep coming within it, and an idle server sleeps at once). Waking a
    /// sleeping core costs about 20 µs, nearly half of a blocking client's round trip; polling through the gap makes
    /// the round trip 1.4-1.9 times as fast on a 2-core machine. Default 100 µs; zero always sleeps at once.
    /// </summary>
    public TimeSpan PollSpin { get; init; } = TimeSpan.FromMicroseconds(100);

    /// <summary>
    /// How the server's loop waits: null for the platform's own (epoll on Linux, poll(2) elsewhere). Internal, so that
    /// the tests run the server on both backends on Linux.
    /// </summary>
    internal IO.Polling.PollBackend? PollBackend { get; init; }
}
