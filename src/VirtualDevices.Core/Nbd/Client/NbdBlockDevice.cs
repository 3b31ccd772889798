using VirtualDevices.Block;
using VirtualDevices.Devices;
using VirtualDevices.Nbd.Protocol;

namespace VirtualDevices.Nbd.Client;

/// <summary>
/// An NBD export as a block device (driver <c>nbd</c>): one or more connections to the server (several only when it
/// sets NBD_FLAG_CAN_MULTI_CONN), each with any number of requests in flight. Obtain one with
/// <see cref="NbdClient.ConnectAsync(NbdClientOptions, CancellationToken)"/>.
/// </summary>
/// <remarks>
/// <para>
/// The sector size is the server's minimum block size. A server that states no constraint gets 512 (what the spec
/// recommends clients use for interoperability) when its size is a multiple of 512, and 1 otherwise: a larger sector
/// would put the export's last bytes out of reach.
/// </para>
/// <para>
/// What the server did not advertise is refused before anything is sent: transmission flags become
/// <see cref="BlockDeviceInfo.Features"/> (flush, FUA, trim, write-zeroes, fast zero, multi-conn), the read-only flag
/// becomes <see cref="BlockDeviceInfo.ReadOnly"/>, and allocation status is available only when the server selected
/// <c>base:allocation</c>. Requests larger than the server's maximum block size are split.
/// </para>
/// <para>
/// Errors the server replies with become typed errors: EPERM and EROFS <see cref="BlockReadOnlyException"/>; EINVAL
/// (and EOVERFLOW) a <see cref="DeviceException"/> with id <c>NbdInvalidRequest</c> and category InvalidArgument
/// ("the server refused the request as invalid", with the server's message), since ranges are checked before sending
/// (a request past the end is <see cref="BlockOutOfRangeException"/>); ENOTSUP <see cref="DeviceUnimplementedException"/>;
/// ESHUTDOWN <see cref="DeviceDisconnectedException"/>; anything else <see cref="BlockIOException"/> with the errno.
/// </para>
/// </remarks>
public sealed class NbdBlockDevice : BlockDevice, IInlineCompletionReader
{
    /// <summary>Set for the duration of an inline-completing read call (<see cref="IInlineCompletionReader"/>), read by the read it makes.</summary>
    [ThreadStatic]
    private static bool t_completeInline;

    /// <summary>The spec's safe request size when the server states no maximum.</summary>
    private const int DefaultMaximumRequest = 32 * 1024 * 1024;

    private readonly NbdClientConnection[] _connections;
    private readonly NbdNegotiation _negotiation;
    private readonly int _maximumRequest;
    private readonly long _maximumStatusLength;
    private int _next;

    internal NbdBlockDevice(string name, NbdClientOptions options, NbdNegotiation negotiation, NbdClientConnection[] connections)
        : base(name, "nbd", NbdUri.Format(options), CreateInfo(negotiation, options, out int maximumRequest))
    {
        Options = options;
        _negotiation = negotiation;
        _connections = connections;
        _maximumRequest = maximumRequest;
        int sectorSize = Info.SectorSize;
        _maximumStatusLength = negotiation.ExtendedHeaders ? long.MaxValue / sectorSize * sectorSize : uint.MaxValue / (uint)sectorSize * sectorSize;
        foreach (NbdClientConnection connection in connections)
        {
            connection.Start(OnConnectionDead);
        }
    }

    /// <summary>The options the device was connected with.</summary>
    public NbdClientOptions Options { get; }

    /// <summary>The export's name.</summary>
    public string ExportName => _negotiation.ExportName;

    /// <summary>The server's description of the export, or an empty string.</summary>
    public string Description => _negotiation.Description;

    /// <summary>The export's size in bytes (sectors beyond the last whole one are not addressable).</summary>
    public long ExportSize => _negotiation.Size;

    /// <summary>The transmission flags the server sent.</summary>
    public NbdTransmissionFlags TransmissionFlags => _negotiation.Flags;

    /// <summary>The number of connections requests are spread over.</summary>
    public int ConnectionCount => _connections.Length;

    /// <summary>True when the connections use TLS.</summary>
    public bool IsTls => _negotiation.Tls;

    /// <summary>True when structured replies were negotiated.</summary>
    public bool StructuredReplies => _negotiation.StructuredReplies;

    /// <summary>True when extended headers (64-bit lengths) were negotiated.</summary>
    public bool ExtendedHeaders => _negotiation.ExtendedHeaders;

    /// <summary>The server's block size constraints (minimum, preferred, maximum); zeroes when it sent none.</summary>
    public (int Minimum, int Preferred, long Maximum) BlockSizeConstraints =>
        (_negotiation.MinimumBlockSize, _negotiation.PreferredBlockSize, _negotiation.MaximumBlockSize);

    /// <summary>Asks the server to prefetch a range into its cache (NBD_CMD_CACHE).</summary>
    /// <param name="sector">The first sector.</param>
    /// <param name="count">The number of sectors.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <exception cref="DeviceUnimplementedException">The server did not advertise NBD_FLAG_SEND_CACHE.</exception>
    public ValueTask CacheAsync(long sector, long count, CancellationToken cancellationToken = default)
    {
        if (!IsConnected)
        {
            return ValueTask.FromException(new DeviceDisconnectedException(Name));
        }

        if ((_negotiation.Flags & NbdTransmissionFlags.SendCache) == 0)
        {
            return ValueTask.FromException(new DeviceUnimplementedException(Name, "cache"));
        }

        if (BlockRange.Check(Name, sector, count, Info.SectorCount) is { } outOfRange)
        {
            return ValueTask.FromException(outOfRange);
        }

        return SplitAsync(NbdCommand.Cache, NbdCommandFlags.None, sector * Info.SectorSize, count * Info.SectorSize, _maximumRequest, cancellationToken);
    }

    /// <summary>The allocation of the whole export, run by run (what <c>nbdinfo --map</c> prints).</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async ValueTask<IReadOnlyList<BlockExtent>> GetAllocationMapAsync(CancellationToken cancellationToken = default)
    {
        var map = new List<BlockExtent>();
        var extents = new BlockExtent[1024];
        long sector = 0;
        while (sector < Info.SectorCount)
        {
            int n = await GetAllocationAsync(sector, Info.SectorCount - sector, extents, cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < n; i++)
            {
                BlockExtent extent = extents[i];
                if (map.Count > 0 && map[^1].Flags == extent.Flags && map[^1].Sector + map[^1].Count == extent.Sector)
                {
                    map[^1] = map[^1] with { Count = map[^1].Count + extent.Count };
                }
                else
                {
                    map.Add(extent);
                }

                sector = extent.Sector + extent.Count;
            }
        }

        return map;
    }

    /// <summary>
    /// A read whose caller continues on the connection's reading thread (see <see cref="IInlineCompletionReader"/>):
    /// it goes through <see cref="BlockDevice.ReadAsync(long, Memory{byte}, CancellationToken)"/> (checks and
    /// statistics), which calls <see cref="ReadCoreAsync(long, Memory{byte}, CancellationToken)"/> before it returns;
    /// the flag tells that call.
    /// </summary>
    ValueTask IInlineCompletionReader.ReadCompletingInlineAsync(long sector, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        t_completeInline = true;
        try
        {
            return ReadAsync(sector, buffer, cancellationToken);
        }
        finally
        {
            t_completeInline = false;
        }
    }

    /// <inheritdoc/>
    protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        bool inline = t_completeInline;
        t_completeInline = false;
        if (buffer.Length <= _maximumRequest)
        {
            return Pick().SubmitAsync(NbdCommand.Read, NbdCommandFlags.None, offset, buffer.Length, buffer, default, cancellationToken, inline);
        }

        return SplitTransferAsync(NbdCommand.Read, NbdCommandFlags.None, offset, buffer, default, cancellationToken);
    }

    /// <inheritdoc/>
    protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> buffer, BlockWriteOptions options, CancellationToken cancellationToken)
    {
        NbdCommandFlags flags = (options & BlockWriteOptions.ForceUnitAccess) != 0 ? NbdCommandFlags.ForceUnitAccess : NbdCommandFlags.None;
        if (buffer.Length <= _maximumRequest)
        {
            return Pick().SubmitAsync(NbdCommand.Write, flags, offset, buffer.Length, default, buffer, cancellationToken);
        }

        return SplitTransferAsync(NbdCommand.Write, flags, offset, default, buffer, cancellationToken);
    }

    /// <inheritdoc/>
    protected override ValueTask FlushCoreAsync(CancellationToken cancellationToken) =>
        // With multi-conn, a flush on any connection covers writes completed on all of them.
        Pick().SubmitAsync(NbdCommand.Flush, NbdCommandFlags.None, 0, 0, default, default, cancellationToken);

    /// <inheritdoc/>
    protected override ValueTask TrimCoreAsync(long offset, long length, CancellationToken cancellationToken) =>
        SplitAsync(NbdCommand.Trim, NbdCommandFlags.None, offset, length, _maximumStatusLength, cancellationToken);

    /// <inheritdoc/>
    protected override ValueTask WriteZeroesCoreAsync(long offset, long length, WriteZeroesOptions options, CancellationToken cancellationToken)
    {
        NbdCommandFlags flags = NbdCommandFlags.None;
        if ((options & WriteZeroesOptions.NoHole) != 0)
        {
            flags |= NbdCommandFlags.NoHole;
        }

        if ((options & WriteZeroesOptions.FastOnly) != 0)
        {
            flags |= NbdCommandFlags.FastZero;
        }

        if ((options & WriteZeroesOptions.ForceUnitAccess) != 0)
        {
            flags |= NbdCommandFlags.ForceUnitAccess;
        }

        // The maximum block size binds write-zeroes too (except with FAST_ZERO, but one rule is simpler and safe).
        return SplitAsync(NbdCommand.WriteZeroes, flags, offset, length, _maximumRequest, cancellationToken);
    }

    /// <inheritdoc/>
    protected override ValueTask<int> GetAllocationCoreAsync(long sector, long count, Memory<BlockExtent> extents, CancellationToken cancellationToken)
    {
        int size = Info.SectorSize;
        long length = Math.Min(count * size, _maximumStatusLength);
        return Pick().SubmitBlockStatusAsync(sector * size, length, extents, size, cancellationToken);
    }

    /// <inheritdoc/>
    protected override async ValueTask DisconnectCoreAsync(CancellationToken cancellationToken)
    {
        var pending = new List<Task>(_connections.Length);
        foreach (NbdClientConnection connection in _connections)
        {
            pending.Add(connection.DisconnectAsync(cancellationToken).AsTask());
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
    }

    private NbdClientConnection Pick()
    {
        NbdClientConnection[] connections = _connections;
        return connections.Length == 1 ? connections[0] : connections[(int)((uint)Interlocked.Increment(ref _next) % (uint)connections.Length)];
    }

    private void OnConnectionDead(Exception reason)
    {
        // One dead connection leaves a multi-conn device without its ordering guarantees: give the whole device up.
        MarkDisconnected();
        foreach (NbdClientConnection connection in _connections)
        {
            connection.Abort(reason);
        }
    }

    private async ValueTask SplitTransferAsync(NbdCommand command, NbdCommandFlags flags, long offset, Memory<byte> readBuffer, ReadOnlyMemory<byte> payload,
        CancellationToken cancellationToken)
    {
        int total = command == NbdCommand.Read ? readBuffer.Length : payload.Length;
        var pieces = new List<ValueTask>((total / _maximumRequest) + 1);
        for (int done = 0; done < total; done += _maximumRequest)
        {
            int n = Math.Min(_maximumRequest, total - done);
            pieces.Add(command == NbdCommand.Read
                ? Pick().SubmitAsync(command, flags, offset + done, n, readBuffer.Slice(done, n), default, cancellationToken)
                : Pick().SubmitAsync(command, flags, offset + done, n, default, payload.Slice(done, n), cancellationToken));
        }

        Exception? first = null;
        foreach (ValueTask piece in pieces)
        {
            try
            {
                await piece.ConfigureAwait(false);
            }
            catch (Exception e)
            {
                first ??= e;
            }
        }

        if (first is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
        }
    }

    private async ValueTask SplitAsync(NbdCommand command, NbdCommandFlags flags, long offset, long length, long chunk, CancellationToken cancellationToken)
    {
        while (length > 0)
        {
            long n = Math.Min(length, chunk);
            await Pick().SubmitAsync(command, flags, offset, n, default, default, cancellationToken).ConfigureAwait(false);
            offset += n;
            length -= n;
        }
    }

    private static BlockDeviceInfo CreateInfo(NbdNegotiation negotiation, NbdClientOptions options, out int maximumRequest)
    {
        // The NBD minimum block size is only the smallest unit the server can take (qemu-nbd advertises 1 for a raw
        // image): every multiple of it is valid too (doc/proto.md, "Block size constraints": lengths and offsets that
        // are multiples of the minimum). Sectors of 1 byte would make every copy's sector numbers mean bytes, so, as
        // the Linux nbd driver and nbdcopy do, a minimum under 512 (a power of two, so it divides 512) gives 512-byte
        // sectors when the size allows; a larger minimum is the sector size itself.
        int minimum = negotiation.MinimumBlockSize > 0 ? negotiation.MinimumBlockSize : 1;
        int sectorSize = minimum >= 512 ? minimum : negotiation.Size % 512 == 0 ? 512 : minimum;
        NbdTransmissionFlags flags = negotiation.Flags;
        BlockFeatures features = BlockFeatures.None;
        features |= (flags & NbdTransmissionFlags.SendFlush) != 0 ? BlockFeatures.Flush : 0;
        features |= (flags & NbdTransmissionFlags.SendFua) != 0 ? BlockFeatures.ForceUnitAccess : 0;
        features |= (flags & NbdTransmissionFlags.SendTrim) != 0 ? BlockFeatures.Trim : 0;
        features |= (flags & NbdTransmissionFlags.SendWriteZeroes) != 0 ? BlockFeatures.WriteZeroes : 0;
        features |= (flags & NbdTransmissionFlags.SendFastZero) != 0 && (flags & NbdTransmissionFlags.SendWriteZeroes) != 0 ? BlockFeatures.FastZero : 0;
        features |= (flags & NbdTransmissionFlags.CanMultiConnection) != 0 ? BlockFeatures.MultiConnection : 0;
        features |= negotiation.AllocationContextId is not null ? BlockFeatures.AllocationStatus : 0;

        long limit = negotiation.MaximumBlockSize is 0 or uint.MaxValue ? DefaultMaximumRequest : negotiation.MaximumBlockSize;
        if (options.MaximumRequestSize > 0)
        {
            limit = Math.Min(limit, options.MaximumRequestSize);
        }

        limit = Math.Max(sectorSize, Math.Min(limit, 1 << 30) / sectorSize * sectorSize);
        maximumRequest = (int)limit;
        int preferred = negotiation.PreferredBlockSize > 0 ? negotiation.PreferredBlockSize : 4096;
        return new BlockDeviceInfo(sectorSize, negotiation.Size / sectorSize, (flags & NbdTransmissionFlags.ReadOnly) != 0, features)
        {
            PreferredTransferSize = Math.Max(sectorSize, preferred / sectorSize * sectorSize),
            MaximumTransferSize = maximumRequest,
            TrailingBytes = (int)(negotiation.Size % sectorSize),
        };
    }

    /// <summary>Lets the connections resolve their names for errors before the base has set one.</summary>
    internal static string ResolveName(NbdClientOptions options) =>
        string.IsNullOrEmpty(options.DeviceName) ? DeviceNames.Next("nbd") : options.DeviceName;
}
