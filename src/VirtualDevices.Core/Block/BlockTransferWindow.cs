using System.Buffers;

namespace VirtualDevices.Block;

/// <summary>
/// The transfers a streaming operation has in flight on one device, completed in the order they were started (a
/// copy writes its destination in order, a reader yields objects in order).
/// </summary>
/// <remarks>
/// A buffer is handed back (to its owner, or to the pool) only once the transfer using it has completed: a device may
/// still be filling or sending it until then. <see cref="AbandonAsync"/> is therefore the way out on every path: it
/// cancels what is still in flight, waits for it, and returns the pooled buffers.
/// </remarks>
internal sealed class BlockTransferWindow
{
    private readonly IBlockDevice _device;
    private readonly CancellationTokenSource _abandon;
    private readonly Entry[] _entries;
    private int _first;
    private int _count;

    /// <param name="device">The device.</param>
    /// <param name="cancellationToken">The caller's token; the transfers also stop when the window is abandoned.</param>
    /// <param name="depth">How many transfers may be in flight at once.</param>
    public BlockTransferWindow(IBlockDevice device, CancellationToken cancellationToken, int depth)
    {
        _device = device;
        _abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _entries = new Entry[Math.Max(1, depth)];
    }

    /// <summary>True when another transfer may start.</summary>
    public bool HasRoom => _count < _entries.Length;

    /// <summary>True when nothing is in flight.</summary>
    public bool IsEmpty => _count == 0;

    /// <summary>The bytes of the transfers in flight.</summary>
    public long Bytes
    {
        get
        {
            long bytes = 0;
            for (int i = 0; i < _count; i++)
            {
                bytes += _entries[(_first + i) % _entries.Length].Length;
            }

            return bytes;
        }
    }

    /// <summary>A buffer from the shared pool; the window returns it if the transfer using it fails or is abandoned.</summary>
    public byte[] RentBuffer(int length) => ArrayPool<byte>.Shared.Rent(length);

    /// <summary>Returns a buffer to the shared pool (after its transfer completed).</summary>
    public void ReturnBuffer(byte[] buffer) => ArrayPool<byte>.Shared.Return(buffer);

    /// <summary>Starts reading <paramref name="length"/> bytes at <paramref name="sector"/> into <paramref name="buffer"/>.</summary>
    public void Read(long sector, byte[] buffer, int length, bool rented)
    {
        ValueTask operation;
        try
        {
            operation = _device.ReadAsync(sector, buffer.AsMemory(0, length), _abandon.Token);
        }
        catch (Exception e)
        {
            operation = ValueTask.FromException(e);
        }

        Add(new Entry(sector, buffer, length, rented, operation));
    }

    /// <summary>Starts writing <paramref name="length"/> bytes of <paramref name="buffer"/> at <paramref name="sector"/>.</summary>
    public void Write(long sector, byte[] buffer, int length, BlockWriteOptions options, bool rented)
    {
        ValueTask operation;
        try
        {
            operation = _device.WriteAsync(sector, buffer.AsMemory(0, length), options, _abandon.Token);
        }
        catch (Exception e)
        {
            operation = ValueTask.FromException(e);
        }

        Add(new Entry(sector, buffer, length, rented, operation));
    }

    /// <summary>
    /// Waits for the oldest transfer; its buffer is the caller's again. When it failed, its pooled buffer goes back to
    /// the pool and the failure is thrown.
    /// </summary>
    public async ValueTask<(long Sector, byte[] Buffer, int Length)> CompleteOldestAsync()
    {
        Entry entry = TakeOldest();
        try
        {
            await entry.Operation.ConfigureAwait(false);
        }
        catch
        {
            if (entry.Rented)
            {
                ReturnBuffer(entry.Buffer);
            }

            throw;
        }

        return (entry.Sector, entry.Buffer, entry.Length);
    }

    /// <summary>Cancels and waits for every transfer still in flight and returns their pooled buffers; idempotent.</summary>
    public async ValueTask AbandonAsync()
    {
        if (_count > 0)
        {
            await _abandon.CancelAsync().ConfigureAwait(false);
        }

        while (_count > 0)
        {
            Entry entry = TakeOldest();
            try
            {
                await entry.Operation.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Failing already for another reason, or cancelled just now: either way it is over.
            }

            if (entry.Rented)
            {
                ReturnBuffer(entry.Buffer);
            }
        }

        _abandon.Dispose();
    }

    private Entry TakeOldest()
    {
        Entry entry = _entries[_first];
        _entries[_first] = default;
        _first = (_first + 1) % _entries.Length;
        _count--;
        return entry;
    }

    private void Add(Entry entry)
    {
        _entries[(_first + _count) % _entries.Length] = entry;
        _count++;
    }

    private readonly record struct Entry(long Sector, byte[] Buffer, int Length, bool Rented, ValueTask Operation);
}
