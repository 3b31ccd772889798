namespace VirtualDevices.Xen.Xenstore;

/// <summary>What a domain may do with a node, as in xenstore-chmod: <c>n</c>, <c>r</c>, <c>w</c> or <c>b</c>.</summary>
[Flags]
public enum XenstoreAccess
{
    /// <summary><c>n</c>: no access.</summary>
    None = 0,
    /// <summary><c>r</c>: read only.</summary>
    Read = 1,
    /// <summary><c>w</c>: write only.</summary>
    Write = 2,
    /// <summary><c>b</c>: both read and write.</summary>
    Both = Read | Write,
}
