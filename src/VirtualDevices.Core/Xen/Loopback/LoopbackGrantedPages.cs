using VirtualDevices.Xen.Grants;

namespace VirtualDevices.Xen.Loopback;

/// <summary>
/// Pages of a loopback domain's arena granted to another domain. Ending tells the hypervisor; a page the grantee
/// still maps goes back to the arena only when the hypervisor says it was released (its last map went), so it is
/// never granted again while the other domain can reach it.
/// </summary>
internal sealed class LoopbackGrantedPages : IGrantedPages
{
    private readonly LoopbackDomain _domain;
    private readonly uint[] _references;
    private readonly uint[] _frames;
    private readonly LoopbackPages _pages;
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();

    // References ended while mapped, waiting for their release.
    private readonly HashSet<uint> _awaitingRelease = [];
    private GrantEndResult? _ended;

    public LoopbackGrantedPages(LoopbackDomain domain, ushort domainId, GrantAccess access, uint[] references, uint[] frames, LoopbackPages pages)
    {
        _domain = domain;
        DomainId = domainId;
        Access = access;
        _references = references;
        _frames = frames;
        _pages = pages;
    }

    public ushort DomainId { get; }

    public GrantAccess Access { get; }

    public ReadOnlySpan<uint> References => _references;

    public Memory<byte> Memory => _pages.Memory;

    public bool IsEnded
    {
        get
        {
            lock (_gate)
            {
                return _ended is not null;
            }
        }
    }

    public GrantPeerUse PeerUse
    {
        get
        {
            lock (_gate)
            {
                if (_ended is not null)
                {
                    return _awaitingRelease.Count > 0 ? GrantPeerUse.Mapped : GrantPeerUse.NotMapped;
                }
            }

            return _domain.GrantMapCounts(_references).Any(c => c > 0) ? GrantPeerUse.Mapped : GrantPeerUse.NotMapped;
        }
    }

    public GrantEndResult End()
    {
        lock (_gate)
        {
            if (_ended is { } result)
            {
                return result;
            }

            // This side's view goes first: nothing here writes the pages after the end.
            _pages.Invalidate();
            bool[] stillMapped;
            try
            {
                stillMapped = _domain.EndGrants(_references);
            }
            catch (DeviceException)
            {
                // The hypervisor is gone: whether a peer maps the pages cannot be known, so they are never reused.
                _ended = GrantEndResult.Deferred;
                return GrantEndResult.Deferred;
            }

            var free = new List<uint>();
            var freeReferences = new List<uint>();
            for (int i = 0; i < _references.Length; i++)
            {
                if (stillMapped[i])
                {
                    _awaitingRelease.Add(_references[i]);
                }
                else
                {
                    free.Add(_frames[i]);
                    freeReferences.Add(_references[i]);
                }
            }

            _domain.Release(this, [.. freeReferences], [.. free]);
            _ended = _awaitingRelease.Count == 0 ? GrantEndResult.Ended : GrantEndResult.Deferred;
            if (_awaitingRelease.Count == 0)
            {
                _released.TrySetResult();
            }

            return _ended.Value;
        }
    }

    public Task WhenReleasedAsync(CancellationToken cancellationToken = default) => _released.Task.WaitAsync(cancellationToken);

    public void Dispose() => End();

    /// <summary>The hypervisor says the grantee let go of <paramref name="reference"/>: its frame is free again.</summary>
    internal void OnReleased(uint reference)
    {
        lock (_gate)
        {
            if (!_awaitingRelease.Remove(reference))
            {
                return; // not ended by us yet, or told twice: a notice that names a reference we did not end changes nothing
            }

            int index = Array.IndexOf(_references, reference);
            _domain.Release(this, [reference], [_frames[index]]);
            if (_awaitingRelease.Count == 0)
            {
                _released.TrySetResult();
            }
        }
    }

    /// <summary>This domain left the hypervisor: the pages are no longer reachable here (nor granted).</summary>
    internal void OnDomainGone()
    {
        lock (_gate)
        {
            _pages.Invalidate();
            _ended ??= GrantEndResult.Deferred;
        }
    }
}
