namespace VirtualDevices.Nbd.Client;

/// <summary>What a server says about one export (NBD_OPT_LIST and NBD_OPT_INFO).</summary>
/// <param name="Name">The export's name, as passed to connect.</param>
/// <param name="Description">The server's description, or an empty string.</param>
/// <param name="Size">Size in bytes; -1 when the server would not say (it refused NBD_OPT_INFO).</param>
/// <param name="Flags">The transmission flags; <see cref="NbdTransmissionFlags.None"/> when unknown.</param>
/// <param name="MinimumBlockSize">The smallest unit of I/O (1 when the server gives no constraint).</param>
/// <param name="PreferredBlockSize">The most efficient request size (4096 when not given).</param>
/// <param name="MaximumBlockSize">The largest request (0 when not given).</param>
public sealed record NbdExportInfo(
    string Name,
    string Description,
    long Size,
    NbdTransmissionFlags Flags,
    int MinimumBlockSize,
    int PreferredBlockSize,
    int MaximumBlockSize)
{
    /// <summary>True when the export refuses writes.</summary>
    public bool ReadOnly => (Flags & NbdTransmissionFlags.ReadOnly) != 0;
}
