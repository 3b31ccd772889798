using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using VirtualDevices.Block;
using VirtualDevices.Nbd.Protocol;

namespace VirtualDevices.Nbd.Server;

/// <summary>
/// One client of an <see cref="NbdServer"/>, on a thread of its own: the handshake, then a loop that reads requests
/// and starts each against the device (inline, or on the thread pool for devices that block), so several can be in
/// progress at once while their replies share one <see cref="NbdFrameWriter"/>.
/// </summary>
/// <remarks>
/// The thread blocks in <c>recv</c> on a socket kept in blocking mode (see <see cref="NbdSocketStream"/>); the
/// handshake's asynchronous code runs on it too, completing synchronously. The handshake timeout closes the socket,
/// and the server stopping shuts down the receiving side, which ends the loop after the requests in progress have
/// been answered.
/// </remarks>
internal sealed class NbdServerConnection
{
    /// <summary>No valid option is longer (names and queries are at most 4096 bytes each).</summary>
    private const int MaximumOptionLength = 64 * 1024;

    /// <summary>An inline request whose device took longer than this (in <see cref="TimeSpan"/> ticks: 500 µs) is slow.</summary>
    private const long SlowInlineTicks = 5_000;

    /// <summary>
    /// How many slow inline requests in a row send the next ones to the thread pool. One is not enough: a page-cache
    /// read preempted by the client on a busy machine looks as slow as a disk read, and sending the next requests to
    /// the pool for it costs a thread hop each; a device that really blocks is slow every time.
    /// </summary>
    private const int SlowInlineInARow = 3;

    /// <summary>How many requests go to the thread pool after slow inline ones.</summary>
    private const int PooledAfterSlowRequest = 256;

    private readonly NbdServer _server;
    private readonly Socket _socket;
    private readonly NbdServerOptions _options;
    private readonly CancellationToken _stopping;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _capacityLock = new();
    private readonly object _poolLock = new();
    private readonly NbdSocketStream _socketStream;
    private Thread? _thread;
    private int _waitingForCapacity;
    private NbdServerRequest? _free;
    private Stream _stream;
    private NbdInputBuffer _input;
    private NbdFrameWriter? _writer;
    private bool _tls;
    private bool _structured;
    private bool _extended;
    private string? _metaContextExport;
    private int _inFlight;

    /// <summary>Bytes of read replies and write payloads this connection holds (see <see cref="NbdServerOptions.MaximumBytesInFlightPerConnection"/>).</summary>
    private long _bytesInFlight;
    private int _closed;
    private int _evicted;
    private long _lastActivity = Stopwatch.GetTimestamp();
    private int _pooledRequests;
    private int _slowInlineRequests;

    public NbdServerConnection(NbdServer server, Socket socket, NbdServerOptions options, CancellationToken stopping)
    {
        _server = server;
        _socket = socket;
        _options = options;
        _stopping = stopping;
        _socketStream = new NbdSocketStream(socket);
        _stream = _socketStream;
        _input = new NbdInputBuffer(_stream);
    }

    /// <summary>The metadata context id of <c>base:allocation</c> (any value works; ids are opaque to clients).</summary>
    public const uint AllocationContextId = 1;

    public Task Completion => _completion.Task;

    public NbdServer Server => _server;

    public bool Structured => _structured;

    public bool Extended => _extended;

    public bool AllocationContextSelected { get; private set; }

    public NbdExport Export { get; private set; } = null!;

    public int MinimumBlockSize { get; private set; }

    public int MaximumBlockSize { get; private set; }

    /// <summary>True once the connection is known dead (closed, or a reply could not be sent): its work is dropped.</summary>
    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>When the client last sent something or was last answered (a <see cref="Stopwatch"/> timestamp: ties between clients that connect in the same millisecond are still ordered).</summary>
    public long LastActivity => Volatile.Read(ref _lastActivity);

    /// <summary>No request in progress: the connection may be evicted for a new client.</summary>
    public bool IsIdle => Volatile.Read(ref _inFlight) == 0 && !IsClosed;

    /// <summary>
    /// Closes an idle connection cleanly (the client sees end of stream) to make room for a new client. False when a
    /// request arrived meanwhile: the reader announces a request (<c>_inFlight</c>) before it checks the eviction
    /// flag, and this sets the flag before it checks for requests, so a request is either refused unexecuted or
    /// keeps its connection.
    /// </summary>
    public bool TryEvict()
    {
        if (Interlocked.CompareExchange(ref _evicted, 1, 0) != 0)
        {
            return false;
        }

        if (Volatile.Read(ref _inFlight) != 0)
        {
            Volatile.Write(ref _evicted, 0);
            return false;
        }

        try
        {
            // FIN, not RST: nothing is left unread in an idle connection's receive buffer.
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        return true;
    }

    public void Abort()
    {
        Volatile.Write(ref _closed, 1);
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        _socket.Dispose();
    }

    /// <summary>Starts the connection's thread; <see cref="Completion"/> completes when the connection has closed.</summary>
    public void Start()
    {
        _thread = new Thread(static state => ((NbdServerConnection)state!).Run()) { IsBackground = true, Name = "nbd-serve" };
        _thread.UnsafeStart(this);
    }

    private void Run()
    {
        try
        {
            NbdExport? export;
            using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stopping))
            using (_socketStream.AbortOn(handshake.Token))
            {
                handshake.CancelAfter(_options.HandshakeTimeout);

                // Every await in the handshake is a blocking call on this thread's socket: it completes synchronously.
                export = HandshakeAsync(handshake.Token).GetAwaiter().GetResult();
            }

            if (export is not null)
            {
                Transmit(export);
            }
        }
        catch (NbdProtocolException)
        {
            _server.CountProtocolViolation();
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or SocketException or ObjectDisposedException or OperationCanceledException
            or AuthenticationException or InvalidOperationException)
        {
            // The client went away, the handshake timed out, TLS failed, or the server is stopping.
        }
        finally
        {
            _writer?.Dispose();
            Abort();
            _stream.Dispose();
            _input.Dispose();
            _server.Remove(this);
            _completion.TrySetResult();
        }
    }

    // ---- Handshake -------------------------------------------------------------------------------------------

    private async Task<NbdExport?> HandshakeAsync(CancellationToken cancellationToken)
    {
        byte[] greeting = new byte[18];
        BinaryPrimitives.WriteUInt64BigEndian(greeting, NbdMagic.InitPassword);
        BinaryPrimitives.WriteUInt64BigEndian(greeting.AsSpan(8), NbdMagic.OptionMagic);
        BinaryPrimitives.WriteUInt16BigEndian(greeting.AsSpan(16), (ushort)(NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes));
        await _stream.WriteAsync(greeting, cancellationToken).ConfigureAwait(false);
        _input.Fill(4);
        var clientFlags = (NbdHandshakeFlags)BinaryPrimitives.ReadUInt32BigEndian(_input.Take(4));
        if ((clientFlags & ~(NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes)) != 0)
        {
            throw new NbdProtocolException(null, $"unknown client flags 0x{(uint)clientFlags:x}");
        }

        bool fixedNewstyle = (clientFlags & NbdHandshakeFlags.FixedNewstyle) != 0;
        bool noZeroes = (clientFlags & NbdHandshakeFlags.NoZeroes) != 0;
        while (true)
        {
            _input.Fill(16);
            Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());
            ReadOnlySpan<byte> header = _input.Take(16);
            ulong magic = BinaryPrimitives.ReadUInt64BigEndian(header);
            var option = (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
            if (magic != NbdMagic.OptionMagic)
            {
                throw new NbdProtocolException(null, $"bad option magic 0x{magic:x16}");
            }

            if (length > MaximumOptionLength)
            {
                throw new NbdProtocolException(null, $"option of {length} bytes");
            }

            byte[] data = new byte[length];
            _input.ReadExactly(data);
            if (!fixedNewstyle && option != NbdOption.ExportName)
            {
                // Without fixed newstyle there is no way to answer an option: only EXPORT_NAME is valid.
                throw new NbdProtocolException(null, "an option other than EXPORT_NAME without fixed newstyle");
            }

            if (_options.Tls == NbdTlsMode.Require && !_tls && option is not (NbdOption.StartTls or NbdOption.Abort))
            {
                if (option == NbdOption.ExportName)
                {
                    return null; // cannot be answered with an error: the spec says hang up
                }

                await ReplyAsync(option, NbdOptionReply.ErrorTlsRequired, "TLS is required: send NBD_OPT_STARTTLS first", cancellationToken).ConfigureAwait(false);
                continue;
            }

            switch (option)
            {
                case NbdOption.ExportName:
                {
                    NbdExport? export = _server.FindExport(Encoding.UTF8.GetString(data));
                    if (export is null)
                    {
                        return null;
                    }

                    Enter(export, metaContextAllowed: false);
                    byte[] reply = new byte[noZeroes ? 10 : 134];
                    BinaryPrimitives.WriteUInt64BigEndian(reply, (ulong)export.Device.Info.SizeBytes);
                    BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(8), (ushort)TransmissionFlags(export));
                    await _stream.WriteAsync(reply, cancellationToken).ConfigureAwait(false);
                    return export;
                }

                case NbdOption.Abort:
                    await ReplyAsync(option, NbdOptionReply.Ack, [], cancellationToken).ConfigureAwait(false);
                    return null;
                case NbdOption.List:
                    if (length != 0)
                    {
                        await ReplyAsync(option, NbdOptionReply.ErrorInvalid, "NBD_OPT_LIST takes no data", cancellationToken).ConfigureAwait(false);
                        break;
                    }

                    foreach (NbdExport export in _server.ListExports())
                    {
                        byte[] name = Encoding.UTF8.GetBytes(export.Name);
                        byte[] description = Encoding.UTF8.GetBytes(export.Description);
                        byte[] entry = new byte[4 + name.Length + description.Length];
                        BinaryPrimitives.WriteUInt32BigEndian(entry, (uint)name.Length);
                        name.CopyTo(entry, 4);
                        description.CopyTo(entry, 4 + name.Length);
                        await ReplyAsync(option, NbdOptionReply.Server, entry, cancellationToken).ConfigureAwait(false);
                    }

                    await ReplyAsync(option, NbdOptionReply.Ack, [], cancellationToken).ConfigureAwait(false);
                    break;
                case NbdOption.StartTls:
                    if (length != 0 || _tls)
                    {
                        await ReplyAsync(option, NbdOptionReply.ErrorInvalid, _tls ? "TLS is already active" : "NBD_OPT_STARTTLS takes no data", cancellationToken).ConfigureAwait(false);
                        break;
                    }

                    if (_options.Tls == NbdTlsMode.Off)
                    {
                        await ReplyAsync(option, NbdOptionReply.ErrorPolicy, "TLS is not configured", cancellationToken).ConfigureAwait(false);
                        break;
                    }

                    await ReplyAsync(option, NbdOptionReply.Ack, [], cancellationToken).ConfigureAwait(false);
                    await StartTlsAsync(cancellationToken).ConfigureAwait(false);
                    break;
                case NbdOption.Info:
                case NbdOption.Go:
                {
                    NbdExport? export = await InfoAsync(option, data, cancellationToken).ConfigureAwait(false);
                    if (export is not null && option == NbdOption.Go)
                    {
                        return export;
                    }

                    break;
                }

                case NbdOption.StructuredReply:
                    if (length != 0)
                    {
                        await ReplyAsync(option, NbdOptionReply.ErrorInvalid, "NBD_OPT_STRUCTURED_REPLY takes no data", cancellationToken).ConfigureAwait(false);
                        break;
                    }

                    _structured = true;
                    await ReplyAsync(option, NbdOptionReply.Ack, [], cancellationToken).ConfigureAwait(false);
                    break;
                case NbdOption.ExtendedHeaders:
                    if (length != 0)
                    {
                        await ReplyAsync(option, NbdOptionReply.ErrorInvalid, "NBD_OPT_EXTENDED_HEADERS takes no data", cancellationToken).ConfigureAwait(false);
                        break;
                    }

                    _structured = _extended = true;
                    await ReplyAsync(option, NbdOptionReply.Ack, [], cancellationToken).ConfigureAwait(false);
                    break;
                case NbdOption.ListMetaContext:
                case NbdOption.SetMetaContext:
                    await MetaContextAsync(option, data, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    await ReplyAsync(option, NbdOptionReply.ErrorUnsupported, "unknown option", cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }

    private async Task<NbdExport?> InfoAsync(NbdOption option, byte[] data, CancellationToken cancellationToken)
    {
        if (data.Length < 6 || BinaryPrimitives.ReadUInt32BigEndian(data) > (uint)(data.Length - 6))
        {
            await ReplyAsync(option, NbdOptionReply.ErrorInvalid, "malformed request", cancellationToken).ConfigureAwait(false);
            return null;
        }

        int nameLength = (int)BinaryPrimitives.ReadUInt32BigEndian(data);
        int count = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(4 + nameLength));
        if (data.Length != 6 + nameLength + (2 * count))
        {
            await ReplyAsync(option, NbdOptionReply.ErrorInvalid, "information request count does not match the length", cancellationToken).ConfigureAwait(false);
            return null;
        }

        string name = Encoding.UTF8.GetString(data, 4, nameLength);
        NbdExport? export = _server.FindExport(name);
        if (export is null)
        {
            await ReplyAsync(option, NbdOptionReply.ErrorUnknown, $"no export named '{name}'", cancellationToken).ConfigureAwait(false);
            return null;
        }

        bool wantName = false;
        bool wantDescription = false;
        for (int i = 0; i < count; i++)
        {
            switch ((NbdInfoType)BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(6 + nameLength + (2 * i))))
            {
                case NbdInfoType.Name: wantName = true; break;
                case NbdInfoType.Description: wantDescription = true; break;
                default: break;
            }
        }

        byte[] info = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)NbdInfoType.Export);
        BinaryPrimitives.WriteUInt64BigEndian(info.AsSpan(2), (ulong)export.Device.Info.SizeBytes);
        BinaryPrimitives.WriteUInt16BigEndian(info.AsSpan(10), (ushort)TransmissionFlags(export));
        await ReplyAsync(option, NbdOptionReply.Info, info, cancellationToken).ConfigureAwait(false);

        // Block sizes are always sent: the device's sector is the smallest unit it can address.
        (int minimum, int preferred, int maximum) = BlockSizes(export);
        byte[] sizes = new byte[14];
        BinaryPrimitives.WriteUInt16BigEndian(sizes, (ushort)NbdInfoType.BlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(sizes.AsSpan(2), (uint)minimum);
        BinaryPrimitives.WriteUInt32BigEndian(sizes.AsSpan(6), (uint)preferred);
        BinaryPrimitives.WriteUInt32BigEndian(sizes.AsSpan(10), (uint)maximum);
        await ReplyAsync(option, NbdOptionReply.Info, sizes, cancellationToken).ConfigureAwait(false);

        if (wantName)
        {
            await ReplyAsync(option, NbdOptionReply.Info, InfoString(NbdInfoType.Name, export.Name), cancellationToken).ConfigureAwait(false);
        }

        if (wantDescription && export.Description.Length > 0)
        {
            await ReplyAsync(option, NbdOptionReply.Info, InfoString(NbdInfoType.Description, export.Description), cancellationToken).ConfigureAwait(false);
        }

        await ReplyAsync(option, NbdOptionReply.Ack, [], cancellationToken).ConfigureAwait(false);
        if (option == NbdOption.Go)
        {
            Enter(export, metaContextAllowed: _metaContextExport == export.Name);
        }

        return export;
    }

    private async Task MetaContextAsync(NbdOption option, byte[] data, CancellationToken cancellationToken)
    {
        if (option == NbdOption.SetMetaContext)
        {
            _metaContextExport = null; // replaced even if this request fails
        }

        if (!_structured)
        {
            await ReplyAsync(option, NbdOptionReply.ErrorInvalid, "structured replies must be negotiated first", cancellationToken).ConfigureAwait(false);
            return;
        }

        // Parse everything before answering: a query running past the option's end is invalid.
        var queries = new List<string>();
        string? exportName = null;
        int position = 0;
        bool valid = TryReadString(data, ref position, out exportName) && position + 4 <= data.Length;
        if (valid)
        {
            uint count = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(position));
            position += 4;
            for (uint i = 0; valid && i < count; i++)
            {
                valid = TryReadString(data, ref position, out string? query);
                if (valid)
                {
                    queries.Add(query!);
                }
            }

            valid &= position == data.Length;
        }

        if (!valid)
        {
            await ReplyAsync(option, NbdOptionReply.ErrorInvalid, "malformed metadata context request", cancellationToken).ConfigureAwait(false);
            return;
        }

        if (_server.FindExport(exportName!) is null)
        {
            await ReplyAsync(option, NbdOptionReply.ErrorUnknown, $"no export named '{exportName}'", cancellationToken).ConfigureAwait(false);
            return;
        }

        bool match = option == NbdOption.ListMetaContext
            ? queries.Count == 0 || queries.Exists(q => q is NbdMetaContexts.BaseNamespace or NbdMetaContexts.BaseAllocation)
            : queries.Contains(NbdMetaContexts.BaseAllocation);
        if (match)
        {
            byte[] name = Encoding.UTF8.GetBytes(NbdMetaContexts.BaseAllocation);
            byte[] reply = new byte[4 + name.Length];
            BinaryPrimitives.WriteUInt32BigEndian(reply, option == NbdOption.SetMetaContext ? AllocationContextId : 0);
            name.CopyTo(reply, 4);
            await ReplyAsync(option, NbdOptionReply.MetaContext, reply, cancellationToken).ConfigureAwait(false);
            if (option == NbdOption.SetMetaContext)
            {
                _metaContextExport = exportName;
            }
        }

        await ReplyAsync(option, NbdOptionReply.Ack, [], cancellationToken).ConfigureAwait(false);
    }

    private static bool TryReadString(byte[] data, ref int position, out string? value)
    {
        value = null;
        if (position + 4 > data.Length)
        {
            return false;
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(position));
        if (length > (uint)(data.Length - position - 4))
        {
            return false;
        }

        value = Encoding.UTF8.GetString(data, position + 4, (int)length);
        position += 4 + (int)length;
        return true;
    }

    private async Task StartTlsAsync(CancellationToken cancellationToken)
    {
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
        X509Certificate2Collection? authorities = _options.TlsClientAuthorities;
        var tlsOptions = new SslServerAuthenticationOptions
        {
            ServerCertificate = _options.TlsCertificate,
            ClientCertificateRequired = authorities is not null,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = authorities is null ? null : (_, certificate, _, _) => ValidateClient(certificate, authorities),
        };
        await ssl.AuthenticateAsServerAsync(tlsOptions, cancellationToken).ConfigureAwait(false);
        _input.ReplaceStream(ssl);
        _stream = ssl;
        _tls = true;

        // The spec: no negotiation state survives STARTTLS.
        _structured = _extended = false;
        _metaContextExport = null;
    }

    private static bool ValidateClient(X509Certificate? certificate, X509Certificate2Collection authorities)
    {
        if (certificate is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    private static byte[] InfoString(NbdInfoType type, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        byte[] info = new byte[2 + bytes.Length];
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)type);
        bytes.CopyTo(info, 2);
        return info;
    }

    private Task ReplyAsync(NbdOption option, NbdOptionReply type, string? message, CancellationToken cancellationToken) =>
        ReplyAsync(option, type, message is null ? [] : Encoding.UTF8.GetBytes(message), cancellationToken);

    private async Task ReplyAsync(NbdOption option, NbdOptionReply type, byte[] data, CancellationToken cancellationToken)
    {
        byte[] reply = new byte[20 + data.Length];
        BinaryPrimitives.WriteUInt64BigEndian(reply, NbdMagic.OptionReplyMagic);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(8), (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(12), (uint)type);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(16), (uint)data.Length);
        data.CopyTo(reply, 20);
        await _stream.WriteAsync(reply, cancellationToken).ConfigureAwait(false);
        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private void Enter(NbdExport export, bool metaContextAllowed)
    {
        Export = export;
        AllocationContextSelected = metaContextAllowed && _structured;
        (MinimumBlockSize, _, MaximumBlockSize) = BlockSizes(export);
    }

    private (int Minimum, int Preferred, int Maximum) BlockSizes(NbdExport export)
    {
        BlockDeviceInfo info = export.Device.Info;
        int minimum = info.SectorSize;
        int preferred = Math.Max(4096, minimum);
        if (info.PreferredTransferSize > preferred && int.IsPow2(info.PreferredTransferSize))
        {
            preferred = info.PreferredTransferSize;
        }

        long maximum = _options.MaximumRequestSize;
        if (info.MaximumTransferSize > 0)
        {
            maximum = Math.Min(maximum, info.MaximumTransferSize);
        }

        maximum = Math.Max(maximum / minimum * minimum, preferred);
        return (minimum, preferred, (int)maximum);
    }

    private NbdTransmissionFlags TransmissionFlags(NbdExport export)
    {
        BlockDeviceInfo info = export.Device.Info;
        NbdTransmissionFlags flags = NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendCache;
        flags |= export.ReadOnly ? NbdTransmissionFlags.ReadOnly : 0;
        flags |= info.Supports(BlockFeatures.Flush) ? NbdTransmissionFlags.SendFlush : 0;
        flags |= info.Supports(BlockFeatures.ForceUnitAccess) ? NbdTransmissionFlags.SendFua : 0;
        flags |= info.Supports(BlockFeatures.Trim) ? NbdTransmissionFlags.SendTrim : 0;
        flags |= info.Supports(BlockFeatures.WriteZeroes) ? NbdTransmissionFlags.SendWriteZeroes : 0;
        flags |= info.Supports(BlockFeatures.WriteZeroes | BlockFeatures.FastZero) ? NbdTransmissionFlags.SendFastZero : 0;
        flags |= info.Supports(BlockFeatures.MultiConnection) ? NbdTransmissionFlags.CanMultiConnection : 0;
        // Reads are never fragmented, so DF is honoured trivially once replies are structured.
        flags |= _structured ? NbdTransmissionFlags.SendDoNotFragment : 0;
        return flags;
    }

    // ---- Transmission ----------------------------------------------------------------------------------------

    private void Transmit(NbdExport export)
    {
        _writer = new NbdFrameWriter(_stream, "nbd-serve-write", _ => Abort());
        int headerLength = _extended ? NbdRequestHeader.ExtendedLength : NbdRequestHeader.CompactLength;
        uint expectedMagic = _extended ? NbdMagic.ExtendedRequest : NbdMagic.Request;

        // Stopping the server ends the loop below at its next read (a shutdown of the receiving side wakes a blocked
        // recv with end of stream); what is in progress is still answered.
        using CancellationTokenRegistration stop = _stopping.UnsafeRegister(static state => ((NbdServerConnection)state!).StopReceiving(), this);
        try
        {
            while (!IsClosed)
            {
                WaitForCapacity(0);
                try
                {
                    _input.Fill(headerLength);
                }
                catch (Exception e) when (_stopping.IsCancellationRequested && e is EndOfStreamException or IOException or SocketException)
                {
                    break;
                }

                ReadOnlySpan<byte> header = _input.Take(headerLength);
                uint magic = BinaryPrimitives.ReadUInt32BigEndian(header);
                if (magic != expectedMagic)
                {
                    throw new NbdProtocolException(null, $"bad request magic 0x{magic:x8}");
                }

                var flags = (NbdCommandFlags)BinaryPrimitives.ReadUInt16BigEndian(header[4..]);
                var command = (NbdCommand)BinaryPrimitives.ReadUInt16BigEndian(header[6..]);
                ulong cookie = BinaryPrimitives.ReadUInt64BigEndian(header[8..]);
                ulong offset = BinaryPrimitives.ReadUInt64BigEndian(header[16..]);
                ulong length = _extended ? BinaryPrimitives.ReadUInt64BigEndian(header[24..]) : BinaryPrimitives.ReadUInt32BigEndian(header[24..]);
                if (command == NbdCommand.Disconnect)
                {
                    break;
                }

                if (command == NbdCommand.Write && length > (ulong)_options.MaximumRequestSize)
                {
                    throw new NbdProtocolException(null, $"write payload of {length} bytes");
                }

                // Announced before the eviction flag is read (see TryEvict); an evicted connection runs nothing more.
                Interlocked.Increment(ref _inFlight);
                Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());
                long bytes = BufferedBytes(command, length);
                if (Volatile.Read(ref _evicted) != 0 || !Reserve(bytes))
                {
                    Interlocked.Decrement(ref _inFlight);
                    break;
                }

                NbdServerRequest request = Rent();
                request.Prepare(command, flags, cookie, offset, length);
                request.ReservedBytes = bytes;
                if (command == NbdCommand.Write)
                {
                    try
                    {
                        Memory<byte> payload = request.RentPayload((int)length);
                        _input.ReadExactly(payload.Span);
                    }
                    catch
                    {
                        request.ReleasePayload();
                        Finished(request, failed: true);
                        throw;
                    }
                }

                Dispatch(request);
            }
        }
        finally
        {
            // Graceful end (DISC, or the server stopping): let requests in flight finish and their replies go out.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (Volatile.Read(ref _inFlight) > 0 && clock.Elapsed < _options.ShutdownGracePeriod)
            {
                Thread.Sleep(1);
            }

            try
            {
                // On the connection's own thread: blocking here holds up no one else.
                _writer.DrainAndStopAsync(_options.ShutdownGracePeriod).AsTask().GetAwaiter().GetResult();
                if (_stream is SslStream ssl)
                {
                    ssl.ShutdownAsync().Wait(TimeSpan.FromSeconds(1));
                }
            }
            catch (Exception e) when (e is TimeoutException or IOException or ObjectDisposedException or AggregateException)
            {
            }
        }
    }

    /// <summary>
    /// Runs a request on the reader's own thread, which saves a thread-pool hop (a wake-up of an idle core costs
    /// more than a page-cache read): the device either completes at once (files, memory) or returns a pending
    /// operation whose completion builds the reply. A device that completes synchronously but slowly (a cold disk)
    /// would stall the reading of further requests, so after a few such requests in a row the next ones go to the
    /// thread pool, where they run side by side, before inline execution is tried again. Only the device's own time
    /// is judged, not the sending of replies that the reading thread may do on the way.
    /// </summary>
    private void Dispatch(NbdServerRequest request)
    {
        if (_pooledRequests > 0)
        {
            _pooledRequests--;
            ThreadPool.UnsafeQueueUserWorkItem(request, preferLocal: false);
            return;
        }

        if (request.ExecuteInline() <= SlowInlineTicks)
        {
            _slowInlineRequests = 0;
        }
        else if (++_slowInlineRequests >= SlowInlineInARow)
        {
            _slowInlineRequests = 0;
            _pooledRequests = PooledAfterSlowRequest;
        }
    }

    /// <summary>
    /// Queues a finished request's reply. The connection's thread sends it at once, even a large one (the client
    /// reading it is what paces this connection anyway); a thread-pool thread hands large ones to the writer thread.
    /// </summary>
    public void Send(NbdServerRequest request) => _writer!.Enqueue(request, mayBlock: Thread.CurrentThread == _thread);

    /// <summary>
    /// The bytes a request makes the server hold: its read reply or its write payload. A read longer than the maximum
    /// block size is refused without a buffer, so it holds nothing.
    /// </summary>
    private long BufferedBytes(NbdCommand command, ulong length) => command switch
    {
        NbdCommand.Write => (long)length,
        NbdCommand.Read when length <= (ulong)MaximumBlockSize => (long)length,
        _ => 0,
    };

    /// <summary>
    /// Back-pressure, as qemu-nbd (16 requests per client) and nbdkit (16 threads per connection) do it with request
    /// counts, here with bytes: the reader stops reading this client's requests, so TCP stops the client, while the
    /// bytes held for it would pass the connection's budget or the server's. A request always fits a connection that
    /// holds nothing, so one larger than the connection's budget is still served. False once the connection is closed
    /// or the server stops.
    /// </summary>
    private bool Reserve(long bytes)
    {
        if (bytes == 0)
        {
            return !IsClosed;
        }

        while (true)
        {
            WaitForCapacity(bytes);
            if (IsClosed || _stopping.IsCancellationRequested)
            {
                return false;
            }

            if (_server.TryReserve(bytes))
            {
                Interlocked.Add(ref _bytesInFlight, bytes);
                return true;
            }

            _server.WaitForBudget(bytes);
        }
    }

    /// <summary>Flow control: stops reading while this client has too much in progress (and room for <paramref name="bytes"/> more).</summary>
    private void WaitForCapacity(long bytes)
    {
        if (HasCapacity(bytes))
        {
            return;
        }

        lock (_capacityLock)
        {
            // Announced before the re-check (a full fence), so a request finishing meanwhile either is seen by the
            // check or sees the flag and pulses.
            Interlocked.Exchange(ref _waitingForCapacity, 1);
            while (!HasCapacity(bytes) && !_stopping.IsCancellationRequested && !IsClosed)
            {
                Monitor.Wait(_capacityLock, TimeSpan.FromMilliseconds(100));
            }

            Volatile.Write(ref _waitingForCapacity, 0);
        }
    }

    /// <summary>
    /// Room for one more request of <paramref name="bytes"/>. The request being admitted is already counted in
    /// <c>_inFlight</c> when bytes are asked for, hence the allowance of one.
    /// </summary>
    private bool HasCapacity(long bytes)
    {
        long held = Volatile.Read(ref _bytesInFlight);
        int requests = Volatile.Read(ref _inFlight) - (bytes > 0 ? 1 : 0);
        return requests < _options.MaximumRequestsInFlight
            && (held == 0 || held + bytes <= _options.MaximumBytesInFlightPerConnection);
    }

    private void StopReceiving()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Receive);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// A request's reply was sent (or could not be): its buffers, bytes and slot are free. A reply that could not be
    /// sent means the client is gone: the connection is marked closed first, so that the reader, woken by the room
    /// freed here, runs none of the requests it still has buffered.
    /// </summary>
    public void Finished(NbdServerRequest request, bool failed)
    {
        if (failed)
        {
            Volatile.Write(ref _closed, 1);
        }

        long bytes = request.ReservedBytes;
        if (bytes > 0)
        {
            request.ReservedBytes = 0;
            Interlocked.Add(ref _bytesInFlight, -bytes);
            _server.Release(bytes);
        }

        Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());
        Interlocked.Decrement(ref _inFlight);
        Return(request);
        if (Volatile.Read(ref _waitingForCapacity) != 0)
        {
            lock (_capacityLock)
            {
                Monitor.Pulse(_capacityLock);
            }
        }
    }

    private NbdServerRequest Rent()
    {
        lock (_poolLock)
        {
            if (_free is { } request)
            {
                _free = request.NextFree;
                request.NextFree = null;
                return request;
            }
        }

        return new NbdServerRequest(this);
    }

    private void Return(NbdServerRequest request)
    {
        lock (_poolLock)
        {
            request.NextFree = _free;
            _free = request;
        }
    }
}
