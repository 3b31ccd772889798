using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace VirtualDevices.Nbd.Protocol;

/// <summary>
/// Serialises the messages of one connection onto its stream from any number of threads without a lock per message:
/// producers queue messages, and one write loop drains the queue, packing consecutive headers and small payloads
/// into one buffer so that a burst of requests or replies costs one system call. Large payloads are written
/// straight from their own memory.
/// </summary>
internal sealed class NbdFrameWriter : IAsyncDisposable
{
    /// <summary>The largest header a message may have.</summary>
    public const int MaximumHeaderLength = 64;

    private const int BufferSize = 64 * 1024;

    /// <summary>Payloads up to this size are copied into the batch buffer rather than written on their own.</summary>
    private const int CopyThreshold = 16 * 1024;

    private readonly ConcurrentQueue<INbdOutgoing> _queue = new();
    private readonly NbdAsyncSignal _signal = new();
    private readonly List<INbdOutgoing> _batch = [];
    private readonly List<ArraySegment<byte>> _segments = new(2);
    private readonly Action<Exception> _onFailure;
    private Stream _stream;
    private byte[] _buffer;
    private Exception? _failure;
    private Task? _loop;
    private volatile bool _stopping;

    /// <param name="stream">The connection's stream.</param>
    /// <param name="onFailure">Told once when a write fails, so that the connection is torn down.</param>
    public NbdFrameWriter(Stream stream, Action<Exception> onFailure)
    {
        _stream = stream;
        _onFailure = onFailure;
        _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    }

    /// <summary>Starts the write loop.</summary>
    public void Start() => _loop = RunAsync();

    /// <summary>Queues a message; if the writer has failed, the message is failed at once.</summary>
    public void Enqueue(INbdOutgoing message)
    {
        _queue.Enqueue(message);
        if (Volatile.Read(ref _failure) is { } failure)
        {
            FailQueued(failure);
            return;
        }

        _signal.Set();
    }

    /// <summary>Stops after everything queued so far is written, then returns.</summary>
    public async ValueTask DrainAndStopAsync()
    {
        _stopping = true;
        _signal.Set();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
    }

    /// <summary>Fails every queued message (used once the connection is known dead).</summary>
    public void Fail(Exception error)
    {
        Interlocked.CompareExchange(ref _failure, error, null);
        _stopping = true;
        FailQueued(Volatile.Read(ref _failure)!);
        _signal.Set();
    }

    private void FailQueued(Exception error)
    {
        while (_queue.TryDequeue(out INbdOutgoing? message))
        {
            message.OnSent(error);
        }
    }

    private async Task RunAsync()
    {
        // Let the producer that started the loop return before the loop takes its thread.
        await Task.Yield();
        try
        {
            while (true)
            {
                await _signal.WaitAsync().ConfigureAwait(false);
                if (Volatile.Read(ref _failure) is not null)
                {
                    break;
                }

                await DrainAsync().ConfigureAwait(false);
                if (_stopping && _queue.IsEmpty)
                {
                    break;
                }
            }

            // Anything queued from now on fails at once rather than waiting for a loop that has gone.
            Interlocked.CompareExchange(ref _failure, new ObjectDisposedException(nameof(NbdFrameWriter)), null);
            FailQueued(_failure!);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, e, null);
            foreach (INbdOutgoing message in _batch)
            {
                message.OnSent(e);
            }

            _batch.Clear();
            FailQueued(e);
            _onFailure(e);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask DrainAsync()
    {
        int used = 0;
        while (_queue.TryDequeue(out INbdOutgoing? message))
        {
            if (!message.BeginSend())
            {
                message.OnSent(null);
                continue;
            }

            int headerLength = message.HeaderLength;
            if (BufferSize - used < headerLength)
            {
                await FlushAsync(used).ConfigureAwait(false);
                used = 0;
            }

            message.WriteHeader(_buffer.AsSpan(used, headerLength));
            used += headerLength;
            _batch.Add(message);
            ReadOnlyMemory<byte> payload = message.Payload;
            if (payload.IsEmpty)
            {
                continue;
            }

            if (payload.Length <= CopyThreshold)
            {
                if (BufferSize - used < payload.Length)
                {
                    await FlushAsync(used).ConfigureAwait(false);
                    used = 0;
                }

                payload.Span.CopyTo(_buffer.AsSpan(used));
                used += payload.Length;
                continue;
            }

            if (used > 0 && _stream is System.Net.Sockets.NetworkStream network
                && System.Runtime.InteropServices.MemoryMarshal.TryGetArray(payload, out ArraySegment<byte> payloadArray))
            {
                // Headers and a large payload in one gathered send: one system call per reply or request, not two.
                _segments.Clear();
                _segments.Add(new ArraySegment<byte>(_buffer, 0, used));
                _segments.Add(payloadArray);
                int sent = await network.Socket.SendAsync(_segments, System.Net.Sockets.SocketFlags.None).ConfigureAwait(false);
                if (sent < used + payload.Length)
                {
                    // A partial gathered send: write what is left the plain way.
                    if (sent < used)
                    {
                        await _stream.WriteAsync(_buffer.AsMemory(sent, used - sent)).ConfigureAwait(false);
                        sent = used;
                    }

                    await _stream.WriteAsync(payload[(sent - used)..]).ConfigureAwait(false);
                }

                used = 0;
            }
            else
            {
                if (used > 0)
                {
                    await _stream.WriteAsync(_buffer.AsMemory(0, used)).ConfigureAwait(false);
                    used = 0;
                }

                await _stream.WriteAsync(payload).ConfigureAwait(false);
            }

            // Written: the producer may reuse the payload now; completing early keeps the pipeline full.
            await FlushAsync(0).ConfigureAwait(false);
        }

        if (used > 0 || _batch.Count > 0)
        {
            await FlushAsync(used).ConfigureAwait(false);
        }
    }

    private async ValueTask FlushAsync(int used)
    {
        if (used > 0)
        {
            await _stream.WriteAsync(_buffer.AsMemory(0, used)).ConfigureAwait(false);
        }

        if (_stream is not System.Net.Sockets.NetworkStream)
        {
            await _stream.FlushAsync().ConfigureAwait(false);
        }

        foreach (INbdOutgoing message in _batch)
        {
            message.OnSent(null);
        }

        _batch.Clear();
    }

    /// <summary>Switches to a new stream (after STARTTLS); only while nothing is queued.</summary>
    public void ReplaceStream(Stream stream) => _stream = stream;

    public async ValueTask DisposeAsync()
    {
        Fail(new ObjectDisposedException(nameof(NbdFrameWriter)));
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Already reported through the failure callback.
            }
        }

        byte[] buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
