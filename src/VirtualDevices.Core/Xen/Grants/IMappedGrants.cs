namespace VirtualDevices.Xen.Grants;

/// <summary>
/// Pages another domain granted to this one, mapped here (<see cref="IGrantTable.Map(ushort, ReadOnlySpan{uint}, GrantAccess)"/>). Disposing unmaps them and
/// tells the granting domain, which may then free them.
/// </summary>
public interface IMappedGrants : IDisposable
{
    /// <summary>The granting domain.</summary>
    ushort DomainId { get; }

    /// <summary>How the pages are mapped: a write through a read-only mapping faults.</summary>
    GrantAccess Access { get; }

    /// <summary>The references mapped, one a page, in the order of the pages of <see cref="Memory"/>.</summary>
    ReadOnlySpan<uint> References { get; }

    /// <summary>The pages; not to be used after dispose.</summary>
    Memory<byte> Memory { get; }

    /// <summary><see cref="References"/> as an array: for callers that cannot hold a span (PowerShell).</summary>
    uint[] GetReferences() => References.ToArray();

    /// <summary>Copies <paramref name="count"/> bytes from <paramref name="offset"/> of the pages (for scripts: <see cref="Memory"/> as an array).</summary>
    /// <param name="offset">The first byte, from the first page's start.</param>
    /// <param name="count">How many.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range is not within the pages.</exception>
    /// <exception cref="ObjectDisposedException">The pages were unmapped.</exception>
    byte[] Read(int offset, int count) => GrantBytes.Read(Memory, offset, count);

    /// <summary>Copies <paramref name="data"/> into the pages from <paramref name="offset"/>.</summary>
    /// <param name="offset">The first byte, from the first page's start.</param>
    /// <param name="data">The bytes.</param>
    /// <exception cref="InvalidOperationException">The pages are mapped read-only (checked: a write would fault the process).</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is not within the pages.</exception>
    /// <exception cref="ObjectDisposedException">The pages were unmapped.</exception>
    void Write(int offset, byte[] data) => GrantBytes.Write(Memory, Access, offset, data);
}
