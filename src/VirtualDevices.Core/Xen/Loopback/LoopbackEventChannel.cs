using VirtualDevices.Interop;
using VirtualDevices.Xen.EventChannels;

namespace VirtualDevices.Xen.Loopback;

/// <summary>
/// A loopback domain's port: its own eventfd, which the other end writes to notify it, and the other end's, which a
/// notify writes. An eventfd's counter is the coalescing: a read takes every event since the last at once.
/// </summary>
internal sealed class LoopbackEventChannel : PolledEventChannel
{
    private readonly LoopbackDomain _domain;
    private readonly SafeFileDescriptor _incoming;
    private SafeFileDescriptor? _peer;

    public LoopbackEventChannel(LoopbackDomain domain, uint port, ushort remoteDomain, SafeFileDescriptor incoming, SafeFileDescriptor? peer)
        : base(port, remoteDomain)
    {
        _domain = domain;
        _incoming = incoming;
        _peer = peer;
    }

    private protected override SafeFileDescriptor Descriptor => _incoming;

    private protected override string Source => _domain.Source;

    /// <summary>
    /// Writes 1 to the other end's eventfd; before the other end has bound, nothing (its port starts with an event
    /// pending). Whether it has bound is asked of the hypervisor while this end has not yet heard of the bind.
    /// </summary>
    public override unsafe void Notify()
    {
        ThrowIfClosed();
        SafeFileDescriptor? peer = Volatile.Read(ref _peer);
        if (peer is null)
        {
            _domain.FetchPeer(this);
            peer = Volatile.Read(ref _peer);
            if (peer is null)
            {
                return;
            }
        }

        ulong one = 1;
        try
        {
            // EAGAIN only when the counter is at its maximum: the other end has events pending anyway.
            _ = Unix.Write(peer, (byte*)&one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
            ThrowIfClosed();
        }
    }

    /// <summary>The other end bound the port: its eventfd.</summary>
    internal void OnBound(SafeFileDescriptor peer)
    {
        if (Interlocked.CompareExchange(ref _peer, peer, null) is not null || IsClosed)
        {
            peer.Dispose();
        }
    }

    /// <summary>The other end closed (or its domain, or the hypervisor, went away).</summary>
    internal void OnClosedByPeer() => MarkClosedByPeer();

    private protected override unsafe int TryConsume()
    {
        ulong count;
        nint read = Unix.Read(_incoming, (byte*)&count, sizeof(ulong));
        return read == sizeof(ulong) ? (int)Math.Min(count, int.MaxValue) : 0;
    }

    private protected override void Close()
    {
        _domain.Unbind(this);
        _incoming.Dispose();
        Interlocked.Exchange(ref _peer, null)?.Dispose();
    }
}
