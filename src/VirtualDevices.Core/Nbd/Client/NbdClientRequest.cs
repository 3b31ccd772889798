using VirtualDevices.Block;
using VirtualDevices.IO;
using VirtualDevices.Nbd.Protocol;

namespace VirtualDevices.Nbd.Client;

/// <summary>
/// One NBD request in flight on a connection, pooled by the connection's <see cref="RequestTable{TRequest}"/>: the
/// command the writer sends (its cookie is the table's id), and the reply state the reader checks chunks against.
/// The awaitable, reference counting and cancellation rules are <see cref="PooledRequest{TResult}"/>'s; the result is
/// the number of extents of a block status reply.
/// </summary>
internal sealed class NbdClientRequest : PooledRequest<int>, IOutgoingMessage
{
    private readonly NbdClientConnection _connection;
    private List<(long Start, long End)>? _ranges;
    private ReadOnlyMemory<byte> _payload;
    private long _nextExpected;

    public NbdClientRequest(NbdClientConnection connection)
    {
        _connection = connection;
    }

    public ulong Cookie => Id;

    public NbdCommand Command { get; private set; }

    public NbdCommandFlags CommandFlags { get; private set; }

    public long Offset { get; private set; }

    public long Length { get; private set; }

    public Memory<byte> ReadBuffer { get; private set; }

    public Memory<BlockExtent> Extents { get; private set; }

    public int SectorSize { get; private set; }

    public long Deadline { get; private set; }

    // Reply state, touched only by the connection's reader.
    public int ExtentCount
    {
        get => ReplyResult;
        set => ReplyResult = value;
    }

    public bool GotStatus { get; set; }

    public long Covered { get; private set; }

    public void Prepare(NbdCommand command, NbdCommandFlags flags, long offset, long length, Memory<byte> readBuffer, ReadOnlyMemory<byte> payload,
        Memory<BlockExtent> extents, int sectorSize, long deadline, bool inline)
    {
        Command = command;
        CommandFlags = flags;
        Offset = offset;
        Length = length;
        ReadBuffer = readBuffer;
        _payload = payload;
        Extents = extents;
        SectorSize = sectorSize;
        Deadline = deadline;
        GotStatus = false;
        Covered = 0;
        _nextExpected = 0;
        _ranges?.Clear();
        Begin(runContinuationsAsynchronously: !inline);
    }

    /// <summary>
    /// Reader: records that bytes [<paramref name="start"/>, +<paramref name="length"/>) of a read arrived; false if
    /// they overlap bytes that already did (a server may not send the same bytes twice).
    /// </summary>
    public bool Cover(long start, long length)
    {
        if (start == _nextExpected && _ranges is not { Count: > 0 })
        {
            _nextExpected = start + length;
            Covered += length;
            return true;
        }

        // Out of order: fall back to an explicit list of ranges (rare; servers send chunks in order).
        _ranges ??= [];
        if (_ranges.Count == 0 && _nextExpected > 0)
        {
            _ranges.Add((0, _nextExpected));
        }

        long end = start + length;
        foreach ((long s, long e) in _ranges)
        {
            if (start < e && s < end)
            {
                return false;
            }
        }

        _ranges.Add((start, end));
        Covered += length;
        return true;
    }

    int IOutgoingMessage.HeaderLength => NbdRequestHeader.Length(_connection.ExtendedHeaders);

    ReadOnlyMemory<byte> IOutgoingMessage.Payload => Command == NbdCommand.Write ? _payload : default;

    void IOutgoingMessage.WriteHeader(Span<byte> destination) =>
        NbdRequestHeader.Write(destination, _connection.ExtendedHeaders, CommandFlags, Command, Cookie, Offset, Length);

    /// <summary>The connection is dying: its teardown completes the caller with the reason.</summary>
    protected override void OnSendFailed(Exception error) => _connection.Abort(error);

    protected override void Clear()
    {
        ReadBuffer = default;
        _payload = default;
        Extents = default;
    }
}
