using System.Globalization;
using System.Net.Sockets;
using System.Text;
using VirtualDevices.IO;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <content>The reader thread: reads messages, completes requests by id, delivers watch events, and after a drop reconnects and registers the watches again.</content>
public sealed partial class XenstoreClient
{
    private void ReaderLoop()
    {
        byte[] buffer = new byte[64 * 1024];
        while (true)
        {
            Transport? transport;
            RequestTable<XsRequest> table;
            lock (_sendLock)
            {
                transport = _transport;
                table = _table;
            }

            Exception? failure = transport is null ? null : ReadUntilFailure(transport, table, buffer);
            if (IsDisposed)
            {
                break;
            }

            OnDisconnected(transport, table, failure);
            if (_reconnect is null)
            {
                break;
            }

            Transport? next = ReconnectUntilDisposed();
            if (next is null)
            {
                break;
            }

            Task watchesRegistered;
            lock (_sendLock)
            {
                _transport = next;
                _table = NewRequestTable();
                // The watches go out first: requests waiting for the connection are sent after them, so a change
                // made once such a request completed cannot slip past a watch that is not registered yet.
                watchesRegistered = RegisterWatchesAgain();
                Interlocked.Increment(ref _reconnectCount);
                _connected.TrySetResult();
            }

            _ = watchesRegistered;
        }

        Volatile.Read(ref _table).Close(new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"the connection to {_endpoint} is closed"));
        CompleteWatches();
    }

    /// <summary>Reads and dispatches messages until the connection fails; returns why.</summary>
    private Exception ReadUntilFailure(Transport transport, RequestTable<XsRequest> table, byte[] buffer)
    {
        int start = 0;
        int end = 0;
        try
        {
            while (true)
            {
                if (buffer.Length - end < MaxMessageSize)
                {
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    end -= start;
                    start = 0;
                }

                SpinForReply(transport, table);
                int received = transport.Receive(buffer.AsSpan(end));
                if (received <= 0)
                {
                    return new EndOfStreamException($"{_endpoint} closed the connection");
                }

                end += received;
                while (end - start >= XenstoreLimits.HeaderSize)
                {
                    XenstoreMessageHeader header = XenstoreMessageHeader.Read(buffer.AsSpan(start));
                    if (header.Length > XenstoreLimits.PayloadMax)
                    {
                        return new InvalidDataException($"{_endpoint} sent a {header.Length}-byte payload, over the protocol limit");
                    }

                    int total = XenstoreLimits.HeaderSize + (int)header.Length;
                    if (end - start < total)
                    {
                        break;
                    }

                    Dispatch(table, header, buffer.AsSpan(start + XenstoreLimits.HeaderSize, (int)header.Length));
                    start += total;
                }

                if (start == end)
                {
                    start = end = 0;
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            return e;
        }
    }

    /// <summary>
    /// While a request waits, polls for its reply up to <see cref="XenstoreClientOptions.SpinDuration"/> before the
    /// blocking receive: a local daemon answers in microseconds, and a reply found by polling costs no wake-up.
    /// </summary>
    private void SpinForReply(Transport transport, RequestTable<XsRequest> table)
    {
        if (_spinTicks == 0 || table.InFlight == 0)
        {
            return;
        }

        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + _spinTicks;
        while (transport.Available == 0 && System.Diagnostics.Stopwatch.GetTimestamp() < deadline && table.InFlight > 0)
        {
            Thread.SpinWait(20);
        }
    }

    private void Dispatch(RequestTable<XsRequest> table, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Type == XenstoreMessageType.WatchEvent)
        {
            DeliverWatchEvent(payload);
            return;
        }

        // A watch event (handled above) also carries request id 0; any other message with id 0 answers slot 0's first use.
        if (table.Lookup(header.RequestId) is { } request)
        {
            request.Complete(header.Type, payload);
        }
    }

    private void DeliverWatchEvent(ReadOnlySpan<byte> payload)
    {
        int nul = payload.IndexOf((byte)0);
        if (nul < 0)
        {
            return;
        }

        ReadOnlySpan<byte> tokenBytes = payload[(nul + 1)..];
        int tokenEnd = tokenBytes.IndexOf((byte)0);
        string token = Encoding.UTF8.GetString(tokenEnd < 0 ? tokenBytes : tokenBytes[..tokenEnd]);
        XenstoreWatch? watch;
        lock (_watches)
        {
            _watches.TryGetValue(token, out watch);
        }

        watch?.Post(new XenstoreWatchEvent(Encoding.UTF8.GetString(payload[..nul]), token));
    }

    private void OnDisconnected(Transport? transport, RequestTable<XsRequest> table, Exception? failure)
    {
        lock (_sendLock)
        {
            if (ReferenceEquals(_transport, transport))
            {
                _transport = null;
            }

            if (_connected.Task.IsCompleted)
            {
                _connected = NewConnectedSignal(completed: false);
            }
        }

        transport?.Dispose();
        table.Close(new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"the connection to {_endpoint} was lost", failure));
    }

    /// <summary>Tries to connect again, backing off from 20 ms to 1 s, until it works or the client is disposed.</summary>
    private Transport? ReconnectUntilDisposed()
    {
        TimeSpan delay = TimeSpan.FromMilliseconds(20);
        while (!IsDisposed)
        {
            try
            {
                Transport transport = _reconnect!();
                if (IsDisposed)
                {
                    transport.Dispose();
                    return null;
                }

                return transport;
            }
            catch (DeviceException)
            {
            }

            _disposedEvent.Wait(delay);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.TicksPerSecond));
        }

        return null;
    }

    /// <summary>Sends WATCH for every watch on the new connection (under the send lock); the task observes the replies.</summary>
    private Task RegisterWatchesAgain()
    {
        XenstoreWatch[] watches;
        lock (_watches)
        {
            watches = [.. _watches.Values];
        }

        var sent = new List<Task>(watches.Length);
        foreach (XenstoreWatch watch in watches)
        {
            sent.Add(CommandAsync(OutgoingMessage.BuildWatch(XenstoreMessageType.Watch, watch), watch.Path, CancellationToken.None).AsTask());
        }

        return ObserveWatchRegistrationsAsync(sent);
    }

    private static async Task ObserveWatchRegistrationsAsync(List<Task> sent)
    {
        foreach (Task registration in sent)
        {
            try
            {
                await registration.ConfigureAwait(false);
            }
            catch (DeviceException)
            {
                // The connection dropped again (the next reconnection retries) or the server refused (quota).
            }
        }
    }

    private void CompleteWatches()
    {
        XenstoreWatch[] watches;
        lock (_watches)
        {
            watches = [.. _watches.Values];
            _watches.Clear();
        }

        foreach (XenstoreWatch watch in watches)
        {
            watch.Complete();
        }
    }
}
