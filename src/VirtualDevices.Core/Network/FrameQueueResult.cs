namespace VirtualDevices.Network;

/// <summary>What became of a frame offered to a consumer's queue.</summary>
internal enum FrameQueueResult
{
    /// <summary>Queued; the consumer now holds it.</summary>
    Queued,

    /// <summary>The queue was full: the consumer missed it (counted).</summary>
    Full,

    /// <summary>The consumer has gone.</summary>
    Closed,
}
