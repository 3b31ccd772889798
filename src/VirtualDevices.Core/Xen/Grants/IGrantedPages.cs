namespace VirtualDevices.Xen.Grants;

/// <summary>
/// Pages of this domain granted to another domain (<see cref="IGrantTable.Grant"/>): the other domain maps them by
/// <see cref="References"/>; this domain reads and writes them through <see cref="Memory"/>.
/// </summary>
/// <remarks>
/// Ending the grant (<see cref="End"/>, or <see cref="IDisposable.Dispose"/>) is always safe: a page is never reused
/// while the other domain can still reach it. <see cref="Memory"/> is not to be used after the end.
/// </remarks>
public interface IGrantedPages : IDisposable
{
    /// <summary>The domain the pages are granted to.</summary>
    ushort DomainId { get; }

    /// <summary>What the other domain may do with the pages (this domain may always write them).</summary>
    GrantAccess Access { get; }

    /// <summary>The grant references, one a page, in page order: what the other domain maps.</summary>
    ReadOnlySpan<uint> References { get; }

    /// <summary>The pages, mapped here; <see cref="IGrantTable.PageSize"/> bytes each, in the order of <see cref="References"/>.</summary>
    Memory<byte> Memory { get; }

    /// <summary><see cref="References"/> as an array: for callers that cannot hold a span (PowerShell).</summary>
    uint[] GetReferences() => References.ToArray();

    /// <summary>Copies <paramref name="count"/> bytes from <paramref name="offset"/> of the pages (for scripts: <see cref="Memory"/> as an array).</summary>
    /// <param name="offset">The first byte, from the first page's start.</param>
    /// <param name="count">How many.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range is not within the pages.</exception>
    /// <exception cref="ObjectDisposedException">The grant has ended.</exception>
    byte[] Read(int offset, int count) => GrantBytes.Read(Memory, offset, count);

    /// <summary>Copies <paramref name="data"/> into the pages from <paramref name="offset"/> (this domain may always write its own pages).</summary>
    /// <param name="offset">The first byte, from the first page's start.</param>
    /// <param name="data">The bytes.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range is not within the pages.</exception>
    /// <exception cref="ObjectDisposedException">The grant has ended.</exception>
    void Write(int offset, byte[] data) => GrantBytes.Write(Memory, GrantAccess.ReadWrite, offset, data);

    /// <summary>Whether the other domain maps the pages now.</summary>
    GrantPeerUse PeerUse { get; }

    /// <summary>True once <see cref="End"/> (or dispose) ran.</summary>
    bool IsEnded { get; }

    /// <summary>
    /// Ends the grant: the other domain can map the pages no more, and this side's <see cref="Memory"/> goes. The
    /// pages are freed at once when nobody maps them, otherwise once the other domain has unmapped them. Once; later
    /// calls return the first result.
    /// </summary>
    GrantEndResult End();

    /// <summary>
    /// Completes once the grant has ended and the other domain has let go of every page (at once after
    /// <see cref="GrantEndResult.Ended"/>; on real Xen when this side's use ended, the rest being the kernel's).
    /// </summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    Task WhenReleasedAsync(CancellationToken cancellationToken = default);
}
