namespace VirtualDevices.Xen.Grants;

/// <summary>What a grant lets the other domain do with the pages, or what a mapping of them may do.</summary>
public enum GrantAccess
{
    /// <summary>Read only: a write through a read-only mapping faults; mapping a read-only grant writable is refused.</summary>
    ReadOnly,

    /// <summary>Read and write.</summary>
    ReadWrite,
}
