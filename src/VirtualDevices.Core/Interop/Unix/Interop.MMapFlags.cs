namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>PROT_NONE</c>: the pages may not be touched (an address range reserved for later <see cref="MAP_FIXED"/> maps).</summary>
    internal const int PROT_NONE = 0x0;

    /// <summary><c>MAP_PRIVATE</c>.</summary>
    internal const int MAP_PRIVATE = 0x2;

    /// <summary>
    /// <c>MAP_FIXED</c>: map exactly at the address given, replacing what was there; used only inside a range this
    /// process reserved itself, to place a domain's pages side by side in the order of their grant references.
    /// </summary>
    internal const int MAP_FIXED = 0x10;

    /// <summary>Linux <c>MAP_ANONYMOUS</c> (macOS: 0x1000; the loopback hypervisor that uses it is Linux-only).</summary>
    internal const int MAP_ANONYMOUS = 0x20;
}
