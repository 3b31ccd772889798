namespace VirtualDevices.Nbd.Protocol;

/// <summary>Metadata context names.</summary>
internal static class NbdMetaContexts
{
    /// <summary>Allocation status: holes and zeroes.</summary>
    public const string BaseAllocation = "base:allocation";

    /// <summary>The namespace wildcard of <c>base:</c> (valid in NBD_OPT_LIST_META_CONTEXT only).</summary>
    public const string BaseNamespace = "base:";
}
