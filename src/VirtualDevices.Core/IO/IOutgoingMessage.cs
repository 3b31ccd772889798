namespace VirtualDevices.IO;

/// <summary>
/// One message queued on a <see cref="FrameWriter"/>: a small header and an optional payload (an NBD request or
/// reply; a xenstore message). <see cref="PooledRequest{TResult}"/> provides <see cref="BeginSend"/> and
/// <see cref="OnSent"/> for requests.
/// </summary>
internal interface IOutgoingMessage
{
    /// <summary>The header's length (at most <see cref="FrameWriter.MaximumHeaderLength"/>); 0 when the payload holds it.</summary>
    int HeaderLength { get; }

    /// <summary>Writes the header.</summary>
    void WriteHeader(Span<byte> destination);

    /// <summary>Bytes sent after the header; must stay untouched until <see cref="OnSent"/>.</summary>
    ReadOnlyMemory<byte> Payload { get; }

    /// <summary>
    /// Returns true to send the message, false to drop it (a request cancelled before it left). Called once, by the
    /// writer, just before the message is serialised.
    /// </summary>
    bool BeginSend();

    /// <summary>Called exactly once per queued message: after it was written, dropped, or could not be written.</summary>
    /// <param name="error">Null when the bytes reached the transport.</param>
    void OnSent(Exception? error);
}
