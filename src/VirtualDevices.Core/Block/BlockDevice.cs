using VirtualDevices.Devices;

namespace VirtualDevices.Block;

/// <summary>
/// The shared half of every block driver: argument checks (alignment, range, read-only, advertised features,
/// disconnected state), statistics, and error normalisation, so that each driver implements only the transfer
/// itself on byte offsets that are already known to be valid.
/// </summary>
/// <remarks>
/// Every failure, including a bad argument, is delivered through the returned task, never thrown synchronously.
/// Exceptions other than <see cref="DeviceException"/> and <see cref="OperationCanceledException"/> escaping a
/// driver are wrapped in <see cref="DeviceUnknownException"/>.
/// </remarks>
public abstract class BlockDevice : IBlockDevice
{
    private readonly BlockCounters _counters = new();
    private int _disconnected;

    /// <summary>Initialises the device.</summary>
    /// <param name="name">The device's name, or null for the next default name of <paramref name="driver"/>.</param>
    /// <param name="driver">The driver's name, also the prefix of default names.</param>
    /// <param name="location">A path or URI shown to the user.</param>
    /// <param name="info">Geometry and capabilities.</param>
    protected BlockDevice(string? name, string driver, string location, BlockDeviceInfo info)
    {
        Name = string.IsNullOrEmpty(name) ? DeviceNames.Next(driver) : name;
        Driver = driver;
        Location = location;
        Info = info;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public DeviceKind Kind => DeviceKind.Block;

    /// <inheritdoc/>
    public string Driver { get; }

    /// <inheritdoc/>
    public string Location { get; }

    /// <inheritdoc/>
    public BlockDeviceInfo Info { get; protected set; }

    /// <inheritdoc/>
    public bool IsConnected => Volatile.Read(ref _disconnected) == 0;

    /// <inheritdoc/>
    public event EventHandler? Disconnected;

    /// <inheritdoc/>
    public DeviceStatistics GetStatistics() => _counters.Snapshot(Name, Driver);

    /// <inheritdoc/>
    public void ResetStatistics() => _counters.Reset();

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Driver}: {Location})";

    /// <inheritdoc/>
    public ValueTask ReadAsync(long sector, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        long length = buffer.Length;
        Exception? error = CheckCommon(cancellationToken) ?? CheckLength(length, "buffer length") ?? CheckRange(sector, length / Info.SectorSize);
        if (error is not null)
        {
            return Refuse(error);
        }

        return length == 0 ? default : Track(Operation.Read, length, static (d, s, b, ct) => d.ReadCoreAsync(s, b, ct), sector * Info.SectorSize, buffer, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask ReadAsync(long sector, IReadOnlyList<Memory<byte>> buffers, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        long length = 0;
        Exception? error = CheckCommon(cancellationToken) ?? CheckGathered(sector, buffers, static b => b.Length, out length);
        if (error is not null)
        {
            return Refuse(error);
        }

        return length == 0 ? default : Track(Operation.Read, length, static (d, s, b, ct) => d.ReadCoreAsync(s, b, ct), sector * Info.SectorSize, buffers, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask WriteAsync(long sector, ReadOnlyMemory<byte> buffer, BlockWriteOptions options = BlockWriteOptions.None, CancellationToken cancellationToken = default)
    {
        long length = buffer.Length;
        Exception? error = CheckCommon(cancellationToken) ?? CheckWritable("write") ?? CheckFua(options)
            ?? CheckLength(length, "buffer length") ?? CheckRange(sector, length / Info.SectorSize);
        if (error is not null)
        {
            return Refuse(error);
        }

        return length == 0 ? default : Track(Operation.Write, length, static (d, s, a, ct) => d.WriteCoreAsync(s, a.buffer, a.options, ct), sector * Info.SectorSize, (buffer, options), cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask WriteAsync(long sector, IReadOnlyList<ReadOnlyMemory<byte>> buffers, BlockWriteOptions options = BlockWriteOptions.None, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        long length = 0;
        Exception? error = CheckCommon(cancellationToken) ?? CheckWritable("write") ?? CheckFua(options)
            ?? CheckGathered(sector, buffers, static b => b.Length, out length);
        if (error is not null)
        {
            return Refuse(error);
        }

        return length == 0 ? default : Track(Operation.Write, length, static (d, s, a, ct) => d.WriteCoreAsync(s, a.buffers, a.options, ct), sector * Info.SectorSize, (buffers, options), cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        Exception? error = CheckCommon(cancellationToken) ?? CheckFeature(BlockFeatures.Flush, "flush");
        return error is not null ? Refuse(error) : Track(Operation.Flush, 0, static (d, _, _, ct) => d.FlushCoreAsync(ct), 0, 0, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask TrimAsync(long sector, long count, CancellationToken cancellationToken = default)
    {
        Exception? error = CheckCommon(cancellationToken) ?? CheckWritable("trim") ?? CheckFeature(BlockFeatures.Trim, "trim") ?? CheckRange(sector, count);
        if (error is not null)
        {
            return Refuse(error);
        }

        return count == 0 ? default : Track(Operation.Trim, 0, static (d, s, n, ct) => d.TrimCoreAsync(s, n, ct), sector * Info.SectorSize, count * Info.SectorSize, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask WriteZeroesAsync(long sector, long count, WriteZeroesOptions options = WriteZeroesOptions.None, CancellationToken cancellationToken = default)
    {
        Exception? error = CheckCommon(cancellationToken) ?? CheckWritable("write-zeroes") ?? CheckFeature(BlockFeatures.WriteZeroes, "write-zeroes")
            ?? ((options & WriteZeroesOptions.FastOnly) != 0 ? CheckFeature(BlockFeatures.FastZero, "fast zeroing") : null)
            ?? CheckFua((options & WriteZeroesOptions.ForceUnitAccess) != 0 ? BlockWriteOptions.ForceUnitAccess : BlockWriteOptions.None)
            ?? CheckRange(sector, count);
        if (error is not null)
        {
            return Refuse(error);
        }

        return count == 0 ? default : Track(Operation.Zero, 0, static (d, s, a, ct) => d.WriteZeroesCoreAsync(s, a.length, a.options, ct), sector * Info.SectorSize, (length: count * Info.SectorSize, options), cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<int> GetAllocationAsync(long sector, long count, Memory<BlockExtent> extents, CancellationToken cancellationToken = default)
    {
        Exception? error = CheckCommon(cancellationToken) ?? CheckRange(sector, count)
            ?? (count > 0 && extents.Length == 0 ? new ArgumentException("At least one extent must fit.", nameof(extents)) : null);
        if (error is not null)
        {
            return ValueTask.FromException<int>(Count(error));
        }

        if (count == 0)
        {
            return new ValueTask<int>(0);
        }

        if (!Info.Supports(BlockFeatures.AllocationStatus))
        {
            extents.Span[0] = new BlockExtent(sector, count, BlockExtentFlags.Data);
            return new ValueTask<int>(1);
        }

        try
        {
            return GetAllocationCoreAsync(sector, count, extents, cancellationToken);
        }
        catch (Exception e)
        {
            return ValueTask.FromException<int>(Normalize(e));
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisconnectAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _disconnected, 1) != 0)
        {
            return;
        }

        try
        {
            await DisconnectCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Disconnected?.Invoke(this, EventArgs.Empty);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await DisconnectAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>Reads <paramref name="buffer"/>.Length bytes at a valid, aligned byte offset.</summary>
    protected abstract ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Scatter read; by default one read per buffer.</summary>
    protected virtual async ValueTask ReadCoreAsync(long offset, IReadOnlyList<Memory<byte>> buffers, CancellationToken cancellationToken)
    {
        foreach (Memory<byte> buffer in buffers)
        {
            await ReadCoreAsync(offset, buffer, cancellationToken).ConfigureAwait(false);
            offset += buffer.Length;
        }
    }

    /// <summary>Writes <paramref name="buffer"/> at a valid, aligned byte offset of a writable device.</summary>
    protected abstract ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> buffer, BlockWriteOptions options, CancellationToken cancellationToken);

    /// <summary>Gather write; by default one write per buffer.</summary>
    protected virtual async ValueTask WriteCoreAsync(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers, BlockWriteOptions options, CancellationToken cancellationToken)
    {
        foreach (ReadOnlyMemory<byte> buffer in buffers)
        {
            await WriteCoreAsync(offset, buffer, options, cancellationToken).ConfigureAwait(false);
            offset += buffer.Length;
        }
    }

    /// <summary>Flushes; called only when <see cref="BlockFeatures.Flush"/> is advertised.</summary>
    protected virtual ValueTask FlushCoreAsync(CancellationToken cancellationToken) => Fail(new DeviceUnimplementedException(Name, "flush"));

    /// <summary>Discards a byte range; called only when <see cref="BlockFeatures.Trim"/> is advertised.</summary>
    protected virtual ValueTask TrimCoreAsync(long offset, long length, CancellationToken cancellationToken) => Fail(new DeviceUnimplementedException(Name, "trim"));

    /// <summary>Zeroes a byte range; called only when <see cref="BlockFeatures.WriteZeroes"/> is advertised.</summary>
    protected virtual ValueTask WriteZeroesCoreAsync(long offset, long length, WriteZeroesOptions options, CancellationToken cancellationToken) => Fail(new DeviceUnimplementedException(Name, "write-zeroes"));

    /// <summary>Reports allocation; called only when <see cref="BlockFeatures.AllocationStatus"/> is advertised.</summary>
    protected virtual ValueTask<int> GetAllocationCoreAsync(long sector, long count, Memory<BlockExtent> extents, CancellationToken cancellationToken)
    {
        extents.Span[0] = new BlockExtent(sector, count, BlockExtentFlags.Data);
        return new ValueTask<int>(1);
    }

    /// <summary>
    /// Fills <paramref name="output"/> with the extents of sectors <paramref name="sector"/> to
    /// <paramref name="sector"/> + <paramref name="count"/>, run by run, for drivers that learn allocation a run at a
    /// time: <paramref name="nextRun"/> gives the end (past the sector, at most the range's end) and the flags of the run
    /// that starts at a sector; adjacent runs with the same flags make one extent. Stops when the output is full.
    /// </summary>
    /// <returns>The number of extents written.</returns>
    private protected static int FillExtents<TState>(TState state, long sector, long count, Span<BlockExtent> output, Func<TState, long, long, (long End, BlockExtentFlags Flags)> nextRun)
    {
        long end = sector + count;
        long current = sector;
        int filled = 0;
        while (current < end)
        {
            (long runEnd, BlockExtentFlags flags) = nextRun(state, current, end);
            if (filled > 0 && output[filled - 1].Flags == flags)
            {
                BlockExtent previous = output[filled - 1];
                output[filled - 1] = previous with { Count = runEnd - previous.Sector };
            }
            else if (filled == output.Length)
            {
                break;
            }
            else
            {
                output[filled++] = new BlockExtent(current, runEnd - current, flags);
            }

            current = runEnd;
        }

        return filled;
    }

    /// <summary>Releases the driver's resources; called once, by the first <see cref="DisconnectAsync"/>.</summary>
    protected virtual ValueTask DisconnectCoreAsync(CancellationToken cancellationToken) => default;

    /// <summary>
    /// For drivers whose peer went away: marks the device disconnected (later requests fail) and raises
    /// <see cref="Disconnected"/>, without calling <see cref="DisconnectCoreAsync"/>.
    /// </summary>
    protected void MarkDisconnected()
    {
        if (Interlocked.Exchange(ref _disconnected, 1) == 0)
        {
            Disconnected?.Invoke(this, EventArgs.Empty);
        }
    }

    private static ValueTask Fail(Exception error) => ValueTask.FromException(error);

    /// <summary>A request refused before reaching the driver still counts as a failed request (cancellations do not).</summary>
    private ValueTask Refuse(Exception error) => ValueTask.FromException(Count(error));

    private Exception Count(Exception error)
    {
        if (error is not OperationCanceledException)
        {
            _counters.Failed();
        }

        return error;
    }

    private Exception? CheckCommon(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return new OperationCanceledException(cancellationToken);
        }

        return IsConnected ? null : new DeviceDisconnectedException(Name);
    }

    private Exception? CheckWritable(string operation) => Info.ReadOnly ? new BlockReadOnlyException(Name, operation) : null;

    private Exception? CheckFeature(BlockFeatures feature, string operation) => Info.Supports(feature) ? null : new DeviceUnimplementedException(Name, operation);

    private Exception? CheckFua(BlockWriteOptions options) =>
        (options & BlockWriteOptions.ForceUnitAccess) != 0 ? CheckFeature(BlockFeatures.ForceUnitAccess, "force unit access") : null;

    private Exception? CheckLength(long length, string what) => BlockRange.CheckAligned(Name, what, length, Info.SectorSize);

    private Exception? CheckRange(long sector, long count) => BlockRange.Check(Name, sector, count, Info.SectorCount);

    /// <summary>Checks each buffer of a gathered transfer and the range they cover together; their total length comes out.</summary>
    private Exception? CheckGathered<TBuffer>(long sector, IReadOnlyList<TBuffer> buffers, Func<TBuffer, int> lengthOf, out long length)
    {
        length = 0;
        for (int i = 0; i < buffers.Count; i++)
        {
            int bufferLength = lengthOf(buffers[i]);
            if (CheckLength(bufferLength, $"buffer {i} length") is { } error)
            {
                return error;
            }

            length += bufferLength;
        }

        return CheckRange(sector, length / Info.SectorSize);
    }

    private Exception Normalize(Exception e)
    {
        Count(e);
        return DriverFailure.Normalize(Name, e);
    }

    private ValueTask Track<TArg>(Operation operation, long bytes, Func<BlockDevice, long, TArg, CancellationToken, ValueTask> core, long offset, TArg argument, CancellationToken cancellationToken)
    {
        ValueTask pending;
        try
        {
            pending = core(this, offset, argument, cancellationToken);
        }
        catch (Exception e)
        {
            return Fail(Normalize(e));
        }

        if (pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult();
            Count(operation, bytes);
            return default;
        }

        return AwaitAndCount(pending, operation, bytes);
    }

    // Pooled: a driver whose requests complete asynchronously (NBD) would otherwise allocate a state machine per request.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitAndCount(ValueTask pending, Operation operation, long bytes)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            DriverFailure.Throw(e, Normalize(e));
        }

        Count(operation, bytes);
    }

    private void Count(Operation operation, long bytes)
    {
        switch (operation)
        {
            case Operation.Read: _counters.Read(bytes); break;
            case Operation.Write: _counters.Written(bytes); break;
            case Operation.Flush: _counters.Flushed(); break;
            case Operation.Trim: _counters.Trimmed(); break;
            case Operation.Zero: _counters.Zeroed(); break;
        }
    }

    private enum Operation
    {
        Read,
        Write,
        Flush,
        Trim,
        Zero,
    }
}
