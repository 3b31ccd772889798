namespace VirtualDevices.Network;

/// <summary>
/// One consumer's hold on a received frame: the frame's bytes in a pooled page, shared (not copied) with the other
/// consumers that received it. Dispose it when done; the page goes back to its pool when every consumer has. A
/// second dispose is detected (<see cref="InvalidOperationException"/>), as is any use after the first
/// (<see cref="ObjectDisposedException"/>); <c>default</c> holds nothing and disposing it is harmless. Copy the bytes
/// (for instance into an <see cref="EthernetFrame"/>) to keep them longer than the lease.
/// </summary>
public readonly struct FrameLease : IDisposable
{
    private readonly ReceivedFrame? _frame;
    private readonly uint _generation;
    private readonly uint _holder;

    internal FrameLease(ReceivedFrame frame, uint generation, uint holder)
    {
        _frame = frame;
        _generation = generation;
        _holder = holder;
    }

    /// <summary>True until this lease is disposed (false for <c>default</c>).</summary>
    public bool IsValid => _frame is not null && _frame.IsHeldBy(_generation, _holder);

    /// <summary>The frame's length in bytes, header included, without the FCS.</summary>
    public int Length => Frame.Length;

    /// <summary>The frame's bytes (read-only: other consumers share them).</summary>
    public ReadOnlyMemory<byte> Data => Frame.Memory;

    /// <summary>The frame's bytes.</summary>
    public ReadOnlySpan<byte> Span => Frame.Span;

    /// <summary>When the device received the frame (UTC, 100 ns resolution).</summary>
    public DateTimeOffset Timestamp => new(Frame.TimestampTicks, TimeSpan.Zero);

    /// <summary>Inbound for a frame the device received; Outbound for one it sent (seen by a tap that asked for them).</summary>
    public FrameDirection Direction => Frame.Direction;

    private ReceivedFrame Frame => _frame is not null && _frame.IsHeldBy(_generation, _holder)
        ? _frame
        : throw new ObjectDisposedException(nameof(FrameLease), "The frame has been released.");

    /// <summary>Releases this consumer's hold on the frame.</summary>
    /// <exception cref="InvalidOperationException">This lease was already released.</exception>
    public void Dispose() => _frame?.Release(_generation, _holder);
}
