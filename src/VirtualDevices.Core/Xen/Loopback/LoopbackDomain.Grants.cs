using VirtualDevices.Xen.Grants;

namespace VirtualDevices.Xen.Loopback;

/// <summary>The grant table of a loopback domain.</summary>
public sealed partial class LoopbackDomain
{
    // Grants made here and not yet released, by reference (what a Released notice names); mappings made here.
    private readonly Dictionary<uint, LoopbackGrantedPages> _granted = [];
    private readonly HashSet<LoopbackMappedGrants> _mapped = [];

    /// <inheritdoc/>
    /// <exception cref="DeviceException"><see cref="DeviceErrorIds.XenLoopback.GrantLimitReached"/>: no run of that many free pages in the arena.</exception>
    public IGrantedPages Grant(ushort domainId, int pageCount, GrantAccess access)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageCount, LoopbackMessage.MaxItems);
        uint[] frames = _arena.TryAllocate(pageCount) ?? throw LoopbackErrors.GrantLimit(pageCount, _arena.Pages);
        uint[] references;
        try
        {
            using LoopbackMessage reply = Request(
                new LoopbackMessage(LoopbackMessageType.Grant, arg0: domainId, arg1: access == GrantAccess.ReadOnly ? 1u : 0u, items: frames),
                $"Granting {pageCount} page(s) to domain {domainId}");
            references = reply.Items;
        }
        catch
        {
            _arena.Free(frames);
            throw;
        }

        var pages = new LoopbackPages(_arena.PageAddress(frames[0]), pageCount * PageSize, ownsMapping: false);
        var granted = new LoopbackGrantedPages(this, domainId, access, references, frames, pages);
        lock (_stateGate)
        {
            foreach (uint reference in references)
            {
                _granted[reference] = granted;
            }
        }

        return granted;
    }

    /// <inheritdoc/>
    /// <exception cref="DeviceException"><see cref="DeviceErrorIds.XenLoopback.GrantNotFound"/>, <see cref="DeviceErrorIds.XenLoopback.GrantReadOnly"/>,
    /// <see cref="DeviceErrorIds.XenLoopback.DomainNotFound"/>.</exception>
    public IMappedGrants Map(ushort domainId, ReadOnlySpan<uint> references, GrantAccess access)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(references.Length, 1, nameof(references));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(references.Length, LoopbackMessage.MaxItems, nameof(references));
        uint[] refs = references.ToArray();
        bool writable = access == GrantAccess.ReadWrite;
        string what = $"Mapping {refs.Length} grant(s) of domain {domainId} (first reference {refs[0]})";
        using LoopbackMessage reply = Request(new LoopbackMessage(LoopbackMessageType.Map, arg0: domainId, arg1: writable ? 1u : 0u, items: refs), what);
        using var arena = reply.TakeDescriptor();
        LoopbackPages? pages = null;
        int errno = Interop.Unix.Errno.EBADF;
        if (arena is not null && reply.Items.Length == refs.Length)
        {
            pages = LoopbackPages.TryMap(arena, reply.Items, writable, out errno);
        }

        if (pages is null)
        {
            UnmapQuietly(domainId, refs);
            throw LoopbackErrors.SystemCall($"{what}: mmap", errno);
        }

        var mapped = new LoopbackMappedGrants(this, domainId, access, refs, pages);
        lock (_stateGate)
        {
            _mapped.Add(mapped);
        }

        return mapped;
    }

    /// <inheritdoc/>
    public void CopyFromGrant(ushort domainId, uint reference, int offset, Span<byte> destination)
    {
        CheckCopy(offset, destination.Length);
        using IMappedGrants mapping = Map(domainId, [reference], GrantAccess.ReadOnly);
        mapping.Memory.Span.Slice(offset, destination.Length).CopyTo(destination);
    }

    /// <inheritdoc/>
    public void CopyToGrant(ushort domainId, uint reference, int offset, ReadOnlySpan<byte> source)
    {
        CheckCopy(offset, source.Length);
        using IMappedGrants mapping = Map(domainId, [reference], GrantAccess.ReadWrite);
        source.CopyTo(mapping.Memory.Span[offset..]);
    }

    /// <summary>Ends grants here (called by <see cref="LoopbackGrantedPages.End"/>).</summary>
    /// <returns>Per reference, true when still mapped by the grantee (released later), false when ended now.</returns>
    internal bool[] EndGrants(uint[] references)
    {
        using LoopbackMessage reply = Request(new LoopbackMessage(LoopbackMessageType.End, items: references), $"Ending grants {string.Join(',', references)}");
        return reply.Items.Select(r => r != 0).ToArray();
    }

    /// <summary>How many times the grantee maps each grant now.</summary>
    internal uint[] GrantMapCounts(uint[] references)
    {
        using LoopbackMessage reply = Request(new LoopbackMessage(LoopbackMessageType.GrantStatus, items: references), "Asking for the use of grants");
        return reply.Items;
    }

    /// <summary>Gives frames back to the arena and forgets the grants' references.</summary>
    internal void Release(LoopbackGrantedPages granted, uint[] references, uint[] frames)
    {
        lock (_stateGate)
        {
            foreach (uint reference in references)
            {
                if (_granted.TryGetValue(reference, out LoopbackGrantedPages? known) && ReferenceEquals(known, granted))
                {
                    _granted.Remove(reference);
                }
            }
        }

        _arena.Free(frames);
    }

    /// <summary>Tells the hypervisor that pages mapped here are unmapped (after the munmap).</summary>
    internal void Unmapped(LoopbackMappedGrants mapped)
    {
        lock (_stateGate)
        {
            _mapped.Remove(mapped);
        }

        UnmapQuietly(mapped.DomainId, mapped.ReferenceArray);
    }

    private void UnmapQuietly(ushort domainId, uint[] references)
    {
        try
        {
            using LoopbackMessage reply = Request(new LoopbackMessage(LoopbackMessageType.Unmap, arg0: domainId, items: references), "Unmapping grants");
        }
        catch (DeviceException)
        {
            // The hypervisor is gone (so are its records), or the granter went away (its grants with it): the pages
            // are unmapped here, which is all that was left to do.
        }
    }

    private void OnReleased(uint[] references)
    {
        foreach (uint reference in references)
        {
            LoopbackGrantedPages? granted;
            lock (_stateGate)
            {
                _granted.TryGetValue(reference, out granted);
            }

            granted?.OnReleased(reference);
        }
    }

    private void InvalidateAll()
    {
        LoopbackGrantedPages[] granted;
        LoopbackMappedGrants[] mapped;
        lock (_stateGate)
        {
            granted = _granted.Values.Distinct().ToArray();
            mapped = [.. _mapped];
            _granted.Clear();
            _mapped.Clear();
        }

        foreach (LoopbackGrantedPages pages in granted)
        {
            pages.OnDomainGone();
        }

        foreach (LoopbackMappedGrants pages in mapped)
        {
            pages.OnDomainGone();
        }
    }

    private void CheckCopy(int offset, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset + (long)length, PageSize, nameof(offset));
    }
}
