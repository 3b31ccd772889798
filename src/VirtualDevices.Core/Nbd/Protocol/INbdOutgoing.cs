namespace VirtualDevices.Nbd.Protocol;

/// <summary>One message queued on an <see cref="NbdFrameWriter"/>: a small header and an optional payload.</summary>
internal interface INbdOutgoing
{
    /// <summary>The header's length (at most <see cref="NbdFrameWriter.MaximumHeaderLength"/>); 0 when the payload holds it.</summary>
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
    /// <param name="error">Null when the bytes reached the stream.</param>
    void OnSent(Exception? error);
}
