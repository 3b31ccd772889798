namespace VirtualDevices.Nbd.Client;

/// <summary>What one connection's handshake settled: the export, its flags and size, and the protocol extensions in force.</summary>
internal sealed class NbdNegotiation
{
    public required string ExportName { get; init; }

    public string Description { get; init; } = "";

    public required long Size { get; init; }

    public required NbdTransmissionFlags Flags { get; init; }

    /// <summary>0 when the server sent no NBD_INFO_BLOCK_SIZE.</summary>
    public int MinimumBlockSize { get; init; }

    public int PreferredBlockSize { get; init; }

    public uint MaximumBlockSize { get; init; }

    public bool StructuredReplies { get; init; }

    public bool ExtendedHeaders { get; init; }

    /// <summary>The id of <c>base:allocation</c>, when the server selected it.</summary>
    public uint? AllocationContextId { get; init; }

    public bool Tls { get; init; }
}
