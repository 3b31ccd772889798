namespace VirtualDevices.Xen.Grants;

/// <summary>
/// Pages another domain granted to this one, mapped here (<see cref="IGrantTable.Map"/>). Disposing unmaps them and
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
}
