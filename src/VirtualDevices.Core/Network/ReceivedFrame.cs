using VirtualDevices.IO.Buffers;

namespace VirtualDevices.Network;

/// <summary>
/// A received frame in a pooled page, shared by the consumers it was queued to. Each consumer holds one bit of
/// <see cref="_state"/>; the device holds bit 31 while it hands the frame out. When the last bit is cleared the page goes
/// back to its pool and this object back to the device's spares, under the next generation, so stale leases of the
/// earlier turn are refused. Generation and holders share one 64-bit word so that one compare-and-swap checks both.
/// </summary>
internal sealed class ReceivedFrame
{
    /// <summary>The holder bit of the device itself while it delivers.</summary>
    internal const uint DelivererBit = 1u << 31;

    private readonly Stack<ReceivedFrame> _spares;
    private PageLease _buffer;
    private long _state; // generation << 32 | holders

    public ReceivedFrame(Stack<ReceivedFrame> spares) => _spares = spares;

    public int Length { get; private set; }

    public long TimestampTicks { get; private set; }

    public FrameDirection Direction { get; private set; }

    public ReadOnlyMemory<byte> Memory => _buffer.Memory[..Length];

    public ReadOnlySpan<byte> Span => _buffer.Span[..Length];

    /// <summary>Takes a filled buffer for a new turn; returns the turn's generation.</summary>
    public uint Begin(PageLease buffer, int length, long timestampTicks, uint holders, FrameDirection direction = FrameDirection.Inbound)
    {
        _buffer = buffer;
        Length = length;
        TimestampTicks = timestampTicks;
        Direction = direction;
        uint generation = (uint)(Volatile.Read(ref _state) >>> 32);
        Volatile.Write(ref _state, ((long)generation << 32) | holders);
        return generation;
    }

    public bool IsHeldBy(uint generation, uint holder)
    {
        long state = Volatile.Read(ref _state);
        return (uint)(state >>> 32) == generation && ((uint)state & holder) != 0;
    }

    /// <summary>Clears one holder's bit; the last one returns the page and this object.</summary>
    /// <exception cref="InvalidOperationException">That holder had already released the frame.</exception>
    public void Release(uint generation, uint holder)
    {
        while (true)
        {
            long state = Volatile.Read(ref _state);
            uint holders = (uint)state;
            if ((uint)(state >>> 32) != generation || (holders & holder) == 0)
            {
                throw new InvalidOperationException("This frame was already released by its consumer.");
            }

            holders &= ~holder;
            long replacement = holders == 0 ? (long)(generation + 1) << 32 : ((long)generation << 32) | holders;
            if (Interlocked.CompareExchange(ref _state, replacement, state) != state)
            {
                continue;
            }

            if (holders == 0)
            {
                PageLease buffer = _buffer;
                _buffer = default;
                buffer.Dispose();
                lock (_spares)
                {
                    _spares.Push(this);
                }
            }

            return;
        }
    }
}
