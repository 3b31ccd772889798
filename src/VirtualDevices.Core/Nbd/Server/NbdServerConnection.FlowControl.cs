using System.Diagnostics;
using VirtualDevices.Nbd.Protocol;

namespace VirtualDevices.Nbd.Server;

/// <summary>Flow control (bytes and requests in flight, per connection and per server) and the accounting of finished requests.</summary>
internal sealed partial class NbdServerConnection
{
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
        _transport.ShutdownReceive();
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
