namespace VirtualDevices.Xen.Grants;

/// <summary>
/// Pages of this domain granted to another domain through <see cref="GrantAllocator"/>, and mapped here: the other
/// domain maps them by <see cref="GrantPages.References"/>; this domain reads and writes them through <see cref="GrantPages.Memory"/>.
/// </summary>
/// <remarks>
/// As <see cref="IGrantedPages"/>: ending is gntalloc's DEALLOC, after which the kernel frees each page only once the
/// grantee has unmapped it (drivers/xen/gntalloc.c keeps it on its list until then); user space cannot see whether
/// the grantee still maps it, so <see cref="PeerUse"/> is <see cref="GrantPeerUse.Unknown"/>.
/// </remarks>
internal sealed class GrantShare : GrantPages, IGrantedPages
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal GrantShare(GrantAllocator allocator, ushort domainId, bool writable, uint[] references, ulong index, MappedPages pages)
        : base(allocator, domainId, writable, references, index, pages)
    {
    }

    /// <inheritdoc/>
    public GrantPeerUse PeerUse => GrantPeerUse.Unknown;

    /// <inheritdoc/>
    public bool IsEnded => IsDisposed;

    /// <inheritdoc/>
    public GrantEndResult End()
    {
        Dispose();
        return GrantEndResult.LeftToKernel;
    }

    /// <inheritdoc/>
    public Task WhenReleasedAsync(CancellationToken cancellationToken = default) => _released.Task.WaitAsync(cancellationToken);

    private protected override void OnDisposed() => _released.TrySetResult();
}
