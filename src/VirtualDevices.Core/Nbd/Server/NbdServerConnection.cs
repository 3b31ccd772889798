using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using VirtualDevices.Block;
using VirtualDevices.IO;
using VirtualDevices.Nbd.Protocol;

namespace VirtualDevices.Nbd.Server;

/// <summary>
/// One client of an <see cref="NbdServer"/>, on a thread of its own: the handshake, then a loop that reads requests
/// and starts each against the device (inline, or on the thread pool for devices that block), so several can be in
/// progress at once while their replies share one <see cref="FrameWriter"/>.
/// </summary>
/// <remarks>
/// <para>
/// The thread blocks in <see cref="Transport.Receive"/> (a socket kept in blocking mode: see <see cref="Transport"/>);
/// the handshake's asynchronous code runs on it too, completing synchronously. The handshake timeout closes the
/// transport, and the server stopping shuts down the receiving side, which ends the loop after the requests in
/// progress have been answered. The connection knows only its <see cref="Transport"/>: socket options are set where
/// the socket is accepted.
/// </para>
/// <para>
/// Its parts: this file (life cycle and the request loop), the handshake (<c>NbdServerConnection.Handshake.cs</c>),
/// and flow control and request accounting (<c>NbdServerConnection.FlowControl.cs</c>).
/// </para>
/// </remarks>
internal sealed partial class NbdServerConnection
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
    private readonly Transport _transport;
    private readonly NbdServerOptions _options;
    private readonly CancellationToken _stopping;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _capacityLock = new();
    private readonly object _poolLock = new();
    private readonly TransportStream _transportStream;
    private Thread? _thread;
    private int _waitingForCapacity;
    private NbdServerRequest? _free;
    private Stream _stream;
    private InputBuffer _input;
    private FrameWriter? _writer;
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

    /// <param name="server">The server.</param>
    /// <param name="transport">The accepted connection, owned by the connection from now on.</param>
    /// <param name="options">The server's options.</param>
    /// <param name="stopping">Cancelled when the server stops.</param>
    public NbdServerConnection(NbdServer server, Transport transport, NbdServerOptions options, CancellationToken stopping)
    {
        _server = server;
        _transport = transport;
        _options = options;
        _stopping = stopping;
        _transportStream = new TransportStream(transport);
        _stream = _transportStream;
        _input = new InputBuffer(transport);
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

        // FIN, not RST: nothing is left unread in an idle connection's receive buffer.
        _transport.Shutdown();
        return true;
    }

    public void Abort()
    {
        Volatile.Write(ref _closed, 1);
        _transport.Dispose();
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
            using (_transportStream.AbortOn(handshake.Token))
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

    // ---- Transmission ----------------------------------------------------------------------------------------

    private void Transmit(NbdExport export)
    {
        _writer = new FrameWriter(_input.Transport, "nbd-serve-write", _ => Abort());
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
}
