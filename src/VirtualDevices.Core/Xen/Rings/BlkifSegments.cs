using System.Runtime.CompilerServices;

namespace VirtualDevices.Xen.Rings;

/// <summary>The <c>seg[BLKIF_MAX_SEGMENTS_PER_REQUEST]</c> array of a <see cref="BlkifRequest"/> (11 segments).</summary>
[InlineArray(BlkifRequest.MaxSegments)]
internal struct BlkifSegments
{
    private BlkifRequestSegment _first;
}
