using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using VirtualDevices.Block;
using VirtualDevices.IO;
using VirtualDevices.Nbd.Protocol;

namespace VirtualDevices.Nbd.Server;

/// <summary>
/// One request being served, pooled per connection (run inline by the reader, or as a thread-pool work item): it validates the request, runs it
/// against the device, builds the reply in one buffer (header and data together, so a read costs one send) and
/// queues it on the connection's writer.
/// </summary>
internal sealed class NbdServerRequest : IThreadPoolWorkItem, IOutgoingMessage
{
    private const int SimpleReplyLength = 16;
    private const int StructuredHeaderLength = 20;
    private const int ExtendedHeaderLength = 32;
    private const int MaximumExtents = 1024;

    /// <summary>
    /// Request and reply buffers. The shared pool keeps only a few arrays per size per core, fewer than a busy
    /// server has in flight, and every miss would allocate a large-object-heap array; this pool keeps enough.
    /// </summary>
    private static readonly ArrayPool<byte> s_buffers = ArrayPool<byte>.Create(maxArrayLength: 4 * 1024 * 1024 + 4096, maxArraysPerBucket: 256);

    private static readonly NbdCommandFlags s_knownFlags = NbdCommandFlags.ForceUnitAccess | NbdCommandFlags.NoHole | NbdCommandFlags.DoNotFragment
        | NbdCommandFlags.RequestOne | NbdCommandFlags.FastZero;

    private readonly NbdServerConnection _connection;
    private readonly byte[] _small = new byte[256];
    private readonly Action _onDeviceDone;
    private BlockExtent[]? _extents;
    private NbdCommand _command;
    private NbdCommandFlags _flags;
    private ulong _cookie;
    private ulong _offset;
    private ulong _length;
    private byte[]? _payload;
    private int _payloadLength;
    private byte[]? _reply;
    private int _replyLength;
    private ValueTask _pending;
    private ValueTask<int> _pendingStatus;
    private int _dataOffset;
    private bool _failed;
    private long _started;
    private long _deviceTicks;

    public NbdServerRequest(NbdServerConnection connection)
    {
        _connection = connection;
        _onDeviceDone = OnDeviceDone;
    }

    public NbdServerRequest? NextFree { get; set; }

    /// <summary>The bytes this request holds of its connection's and the server's budgets, given back when it is finished.</summary>
    public long ReservedBytes { get; set; }

    public void Prepare(NbdCommand command, NbdCommandFlags flags, ulong cookie, ulong offset, ulong length)
    {
        _command = command;
        _flags = flags;
        _cookie = cookie;
        _offset = offset;
        _length = length;
        _payloadLength = 0;
        _failed = false;
        _replyLength = 0;
    }

    public Memory<byte> RentPayload(int length)
    {
        _payload = s_buffers.Rent(Math.Max(length, 1));
        _payloadLength = length;
        return _payload.AsMemory(0, length);
    }

    /// <summary>
    /// Runs the request on the calling thread and returns how long the device took (in <see cref="TimeSpan"/> ticks)
    /// when it completed synchronously, 0 when it went asynchronous. Only the device's own time counts: queueing and
    /// sending the reply, and other replies the writer drains meanwhile, say nothing about whether the device blocks.
    /// </summary>
    public long ExecuteInline()
    {
        _deviceTicks = 0;
        Execute();
        return _deviceTicks;
    }

    public void Execute()
    {
        try
        {
            if (_connection.IsClosed)
            {
                // The client has gone: its queued requests never reach the device.
                ReplyError(NbdErrno.ESHUTDOWN, "the connection is closed");
                return;
            }

            Start();
        }
        catch (Exception e)
        {
            ReplyError(e);
        }
    }

    private void Start()
    {
        NbdExport export = _connection.Export;
        IBlockDevice device = export.Device;
        BlockDeviceInfo info = device.Info;
        int sectorSize = info.SectorSize;
        ulong size = (ulong)info.SizeBytes;

        if ((_flags & ~s_knownFlags) != 0)
        {
            ReplyError(NbdErrno.EINVAL, "unknown command flags");
            return;
        }

        bool ranged = _command is NbdCommand.Read or NbdCommand.Write or NbdCommand.Trim or NbdCommand.WriteZeroes or NbdCommand.Cache or NbdCommand.BlockStatus;
        if (ranged)
        {
            if (_offset % (ulong)sectorSize != 0 || _length % (ulong)sectorSize != 0)
            {
                ReplyError(NbdErrno.EINVAL, $"request not aligned to the {sectorSize}-byte minimum block size");
                return;
            }

            if (_offset > size || _length > size - _offset)
            {
                ReplyError(_command is NbdCommand.Write or NbdCommand.WriteZeroes ? NbdErrno.ENOSPC : NbdErrno.EINVAL, "request beyond the end of the export");
                return;
            }

            // Only requests whose payload (or reply) is the length are bounded by the maximum block size: the spec
            // lets clients send trim and write-zeroes of any length, and nbdcopy zeroes a sparse source's holes in
            // requests far beyond our 32 MiB maximum (refusing them made `nbdcopy image.raw nbd://...` fail).
            bool bounded = _command is NbdCommand.Read or NbdCommand.Write or NbdCommand.Cache;
            if (bounded && _length > (ulong)_connection.MaximumBlockSize)
            {
                ReplyError(NbdErrno.EINVAL, "request larger than the maximum block size");
                return;
            }
        }

        bool writes = _command is NbdCommand.Write or NbdCommand.Trim or NbdCommand.WriteZeroes;
        if (writes && export.ReadOnly)
        {
            ReplyError(NbdErrno.EPERM, "the export is read-only");
            return;
        }

        long sector = (long)_offset / sectorSize;
        long count = (long)_length / sectorSize;
        _started = Stopwatch.GetTimestamp();
        bool fua = (_flags & NbdCommandFlags.ForceUnitAccess) != 0;
        switch (_command)
        {
            case NbdCommand.Read:
            {
                // Header and data in one buffer: the reply goes out in a single send.
                int header = (_connection.Extended ? ExtendedHeaderLength : _connection.Structured ? StructuredHeaderLength : SimpleReplyLength)
                    + (_connection.Structured ? 8 : 0);
                _reply = s_buffers.Rent(header + (int)_length);
                _dataOffset = header;
                Await(device.ReadAsync(sector, _reply.AsMemory(header, (int)_length)));
                break;
            }

            case NbdCommand.Write:
                if (fua && !info.Supports(BlockFeatures.ForceUnitAccess))
                {
                    ReplyError(NbdErrno.EINVAL, "FUA is not supported");
                    return;
                }

                Await(device.WriteAsync(sector, _payload.AsMemory(0, _payloadLength), fua ? BlockWriteOptions.ForceUnitAccess : BlockWriteOptions.None));
                break;
            case NbdCommand.Flush:
                Await(info.Supports(BlockFeatures.Flush) ? device.FlushAsync() : default);
                break;
            case NbdCommand.Trim:
                if (!info.Supports(BlockFeatures.Trim))
                {
                    ReplyError(NbdErrno.EINVAL, "trim is not supported");
                    return;
                }

                // FUA on trim: the trim itself is made durable by a flush after it.
                Await(fua && info.Supports(BlockFeatures.Flush) ? TrimDurablyAsync(device, sector, count) : device.TrimAsync(sector, count));
                break;
            case NbdCommand.WriteZeroes:
            {
                if (!info.Supports(BlockFeatures.WriteZeroes))
                {
                    ReplyError(NbdErrno.EINVAL, "write-zeroes is not supported");
                    return;
                }

                if ((_flags & NbdCommandFlags.FastZero) != 0 && !info.Supports(BlockFeatures.FastZero))
                {
                    ReplyError(NbdErrno.ENOTSUP, "fast zeroing is not supported");
                    return;
                }

                WriteZeroesOptions options = WriteZeroesOptions.None;
                options |= (_flags & NbdCommandFlags.NoHole) != 0 ? WriteZeroesOptions.NoHole : 0;
                options |= (_flags & NbdCommandFlags.FastZero) != 0 ? WriteZeroesOptions.FastOnly : 0;
                options |= fua && info.Supports(BlockFeatures.ForceUnitAccess) ? WriteZeroesOptions.ForceUnitAccess : 0;
                Await(device.WriteZeroesAsync(sector, count, options));
                break;
            }

            case NbdCommand.Cache:
                Await(default);
                break;
            case NbdCommand.BlockStatus:
                if (!_connection.AllocationContextSelected)
                {
                    ReplyError(NbdErrno.EINVAL, "no metadata context was selected");
                    return;
                }

                if (count == 0 || sector >= info.SectorCount)
                {
                    ReplyError(NbdErrno.EINVAL, "empty block status request");
                    return;
                }

                _extents ??= new BlockExtent[MaximumExtents];
                int limit = (_flags & NbdCommandFlags.RequestOne) != 0 ? 1 : MaximumExtents;
                _pendingStatus = device.GetAllocationAsync(sector, count, _extents.AsMemory(0, limit));
                if (_pendingStatus.IsCompleted)
                {
                    _deviceTicks = Stopwatch.GetElapsedTime(_started).Ticks;
                    OnDeviceDone();
                }
                else
                {
                    _pendingStatus.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onDeviceDone);
                }

                break;
            default:
                ReplyError(NbdErrno.EINVAL, "unknown command");
                break;
        }
    }

    private static async ValueTask TrimDurablyAsync(IBlockDevice device, long sector, long count)
    {
        await device.TrimAsync(sector, count).ConfigureAwait(false);
        await device.FlushAsync().ConfigureAwait(false);
    }

    private void Await(ValueTask operation)
    {
        _pending = operation;
        if (operation.IsCompleted)
        {
            _deviceTicks = Stopwatch.GetElapsedTime(_started).Ticks;
            OnDeviceDone();
        }
        else
        {
            operation.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onDeviceDone);
        }
    }

    private void OnDeviceDone()
    {
        try
        {
            if (_command == NbdCommand.BlockStatus)
            {
                int n = _pendingStatus.GetAwaiter().GetResult();
                _pendingStatus = default;
                BuildBlockStatus(n);
            }
            else
            {
                ValueTask pending = _pending;
                _pending = default;
                pending.GetAwaiter().GetResult();
                BuildSuccess();
            }

            ReleasePayload();
            _connection.Send(this);
        }
        catch (Exception e)
        {
            ReplyError(e);
        }
    }

    private void BuildSuccess()
    {
        if (_command == NbdCommand.Read)
        {
            byte[] reply = _reply!;
            if (_connection.Structured)
            {
                int header = _dataOffset - 8;
                WriteChunkHeader(reply, NbdChunkType.OffsetData, 8 + _length, header);
                BinaryPrimitives.WriteUInt64BigEndian(reply.AsSpan(header), _offset);
            }
            else
            {
                WriteSimpleReply(reply, 0);
            }

            _replyLength = _dataOffset + (int)_length;
            return;
        }

        _reply = _small;
        if (_connection.Extended)
        {
            WriteChunkHeader(_small, NbdChunkType.None, 0, ExtendedHeaderLength);
            _replyLength = ExtendedHeaderLength;
        }
        else
        {
            // A simple reply is allowed for anything but a read, even with structured replies.
            WriteSimpleReply(_small, 0);
            _replyLength = SimpleReplyLength;
        }
    }

    private void BuildBlockStatus(int count)
    {
        int sectorSize = _connection.Export.Device.Info.SectorSize;
        bool extended = _connection.Extended;
        int header = extended ? ExtendedHeaderLength : StructuredHeaderLength;
        int prefix = extended ? 8 : 4;
        int descriptor = extended ? 16 : 8;
        byte[] reply = s_buffers.Rent(header + prefix + (descriptor * Math.Max(count, 1)));
        int position = header + prefix;
        int written = 0;
        for (int i = 0; i < count; i++)
        {
            long length = _extents![i].Count * sectorSize;
            if (!extended && length > uint.MaxValue)
            {
                // A compact descriptor holds 32 bits: report what fits and let the client ask again for the rest.
                length = uint.MaxValue / (uint)sectorSize * sectorSize;
                count = i + 1;
            }

            if (extended)
            {
                BinaryPrimitives.WriteUInt64BigEndian(reply.AsSpan(position), (ulong)length);
                BinaryPrimitives.WriteUInt64BigEndian(reply.AsSpan(position + 8), (ulong)(_extents[i].Flags & (BlockExtentFlags.Hole | BlockExtentFlags.Zero)));
            }
            else
            {
                BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(position), (uint)length);
                BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(position + 4), (uint)(_extents[i].Flags & (BlockExtentFlags.Hole | BlockExtentFlags.Zero)));
            }

            position += descriptor;
            written++;
        }

        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(header), NbdServerConnection.AllocationContextId);
        if (extended)
        {
            BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(header + 4), (uint)written);
        }

        WriteChunkHeader(reply, extended ? NbdChunkType.BlockStatusExtended : NbdChunkType.BlockStatus, (ulong)(position - header), header);
        _reply = reply;
        _replyLength = position;
    }

    private void ReplyError(Exception e)
    {
        (int errno, string message) = NbdErrorMapper.FromException(e);
        ReplyError(errno, message);
    }

    private void ReplyError(int errno, string message)
    {
        _failed = true;
        if (_reply is not null && _reply != _small)
        {
            s_buffers.Return(_reply);
        }

        _reply = _small;
        if (!_connection.Structured)
        {
            WriteSimpleReply(_small, errno);
            _replyLength = SimpleReplyLength;
        }
        else
        {
            int header = _connection.Extended ? ExtendedHeaderLength : StructuredHeaderLength;
            int room = _small.Length - header - 6;
            byte[] text = Encoding.UTF8.GetBytes(message);
            int length = Math.Min(text.Length, room);
            while (length > 0 && length < text.Length && (text[length] & 0xC0) == 0x80)
            {
                length--; // do not cut a UTF-8 sequence in half
            }

            WriteChunkHeader(_small, NbdChunkType.Error, (ulong)(6 + length), header);
            BinaryPrimitives.WriteUInt32BigEndian(_small.AsSpan(header), (uint)errno);
            BinaryPrimitives.WriteUInt16BigEndian(_small.AsSpan(header + 4), (ushort)length);
            text.AsSpan(0, length).CopyTo(_small.AsSpan(header + 6));
            _replyLength = header + 6 + length;
        }

        ReleasePayload();
        _connection.Send(this);
    }

    private void WriteSimpleReply(Span<byte> destination, int errno)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdMagic.SimpleReply);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], (uint)errno);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _cookie);
    }

    private void WriteChunkHeader(Span<byte> destination, NbdChunkType type, ulong payloadLength, int headerLength)
    {
        bool extended = headerLength == ExtendedHeaderLength;
        BinaryPrimitives.WriteUInt32BigEndian(destination, extended ? NbdMagic.ExtendedReply : NbdMagic.StructuredReply);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], 1); // NBD_REPLY_FLAG_DONE: every reply is one chunk
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)type);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _cookie);
        if (extended)
        {
            BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _offset);
            BinaryPrimitives.WriteUInt64BigEndian(destination[24..], payloadLength);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[16..], (uint)payloadLength);
        }
    }

    public void ReleasePayload()
    {
        if (_payload is not null)
        {
            s_buffers.Return(_payload);
            _payload = null;
        }
    }

    int IOutgoingMessage.HeaderLength => 0;

    void IOutgoingMessage.WriteHeader(Span<byte> destination)
    {
    }

    ReadOnlyMemory<byte> IOutgoingMessage.Payload => _reply.AsMemory(0, _replyLength);

    bool IOutgoingMessage.BeginSend() => true;

    void IOutgoingMessage.OnSent(Exception? error)
    {
        long read = _command == NbdCommand.Read && !_failed ? (long)_length : 0;
        long written = _command == NbdCommand.Write && !_failed ? (long)_length : 0;
        _connection.Server.CountRequest(read, written, _failed);
        if (_reply is not null && _reply != _small)
        {
            s_buffers.Return(_reply);
        }

        _reply = null;
        _connection.Finished(this, failed: error is not null);
    }
}
