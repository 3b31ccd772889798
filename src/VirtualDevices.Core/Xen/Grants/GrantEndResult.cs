namespace VirtualDevices.Xen.Grants;

/// <summary>What ending a grant did (<see cref="IGrantedPages.End"/>).</summary>
public enum GrantEndResult
{
    /// <summary>Nobody mapped the pages: the grant is gone and the pages are free now.</summary>
    Ended,

    /// <summary>
    /// The other domain still maps pages of the grant: it can map them no more, and the pages are freed (never reused
    /// before) once it has unmapped them; <see cref="IGrantedPages.WhenReleasedAsync"/> completes then.
    /// </summary>
    Deferred,

    /// <summary>
    /// Left to the kernel (real Xen: <c>/dev/xen/gntalloc</c>): this side's use ended, and the kernel frees each page
    /// only once the other domain no longer maps it; whether it still does is not visible from user space.
    /// </summary>
    LeftToKernel,
}
