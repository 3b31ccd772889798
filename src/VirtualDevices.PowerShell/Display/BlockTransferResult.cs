namespace VirtualDevices.Block;

/// <summary>The outcome of a whole-range copy to or from a device (what <c>-PassThru</c> shows).</summary>
/// <remarks>
/// Display only, so it lives in the PowerShell layer; it keeps the namespace it had in the core so that the type name
/// users see (format views, PSTypeNames, <c>-is</c> tests in scripts) stays <c>VirtualDevices.Block.BlockTransferResult</c>.
/// </remarks>
/// <param name="Device">The device's name.</param>
/// <param name="Sector">The first sector transferred.</param>
/// <param name="Bytes">The bytes transferred.</param>
/// <param name="Elapsed">How long it took.</param>
public sealed record BlockTransferResult(string Device, long Sector, long Bytes, TimeSpan Elapsed)
{
    /// <summary>Average throughput.</summary>
    public double BytesPerSecond => Elapsed.TotalSeconds > 0 ? Bytes / Elapsed.TotalSeconds : 0;
}
