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

            Exception? failure = transport is null ? null : ReadUntilFailure(transport, table, ref buffer);
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

        var closed = new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"the connection to {_endpoint} is closed");
        Volatile.Read(ref _table).Close(closed);
        ReleaseXenbusWaiting(closed);
        CompleteWatches();
    }

    /// <summary>
    /// Reads and dispatches messages until the connection fails; returns why. <paramref name="buffer"/> grows (once,
    /// rarely) for a reply over the protocol's 4,096 bytes but within <see cref="ReplyPayloadBound"/>; a message over
    /// the bound fails its request and its payload is skipped as it arrives.
    /// </summary>
    private Exception ReadUntilFailure(Transport transport, RequestTable<XsRequest> table, ref byte[] buffer)
    {
        int start = 0;
        int end = 0;
        long skip = 0;
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
                while (end - start >= XenstoreLimits.HeaderSize || (skip > 0 && end > start))
                {
                    if (skip > 0)
                    {
                        int dropped = (int)Math.Min(skip, end - start);
                        start += dropped;
                        skip -= dropped;
                        continue;
                    }

                    XenstoreMessageHeader header = XenstoreMessageHeader.Read(buffer.AsSpan(start));
                    if (header.Length > ReplyPayloadBound)
                    {
                        RefuseOversized(transport, table, header);
                        start += XenstoreLimits.HeaderSize;
                        skip = header.Length;
                        continue;
                    }

                    int total = XenstoreLimits.HeaderSize + (int)header.Length;
                    if (end - start < total)
                    {
                        if (total > buffer.Length - start)
                        {
                            // An oversized reply (oxenstored's whole DIRECTORY): make room for all of it, in a bigger
                            // buffer if need be; the next receives complete it.
                            byte[] room = total > buffer.Length ? new byte[total] : buffer;
                            buffer.AsSpan(start, end - start).CopyTo(room);
                            end -= start;
                            start = 0;
                            buffer = room;
                        }

                        break;
                    }

                    Dispatch(transport, table, header, buffer.AsSpan(start + XenstoreLimits.HeaderSize, (int)header.Length));
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

    /// <summary>A message over <see cref="ReplyPayloadBound"/>: its request fails with E2BIG (a watch event is dropped); the caller skips the payload.</summary>
    private void RefuseOversized(Transport transport, RequestTable<XsRequest> table, in XenstoreMessageHeader header)
    {
        if (header.Type == XenstoreMessageType.WatchEvent)
        {
            return;
        }

        if (table.Lookup(header.RequestId) is { } request)
        {
            request.Refuse(new XenstoreException("E2BIG",
                $"xenstore sent a {header.Length}-byte reply to {request.Type} '{request.Path}', over the client's bound of {ReplyPayloadBound} bytes; the reply was skipped.",
                request.Path));
        }

        if (_xenbus)
        {
            SendNextOnXenbus(transport);
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

    private void Dispatch(Transport transport, RequestTable<XsRequest> table, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Type == XenstoreMessageType.WatchEvent)
        {
            DeliverWatchEvent(payload);
            return;
        }

        if (_xenbus)
        {
            // Any other message answers the one request on the wire: the device has let go of its payload.
            SendNextOnXenbus(transport);
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
        var lost = new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"the connection to {_endpoint} was lost", failure);
        table.Close(lost);
        ReleaseXenbusWaiting(lost);
    }

    /// <summary>
    /// xenbus: the reply to the request on the wire came; writes the next waiting request (skipping those cancelled
    /// while they waited), on this reader thread. A failed write fails that request and ends the connection.
    /// </summary>
    private void SendNextOnXenbus(Transport transport)
    {
        lock (_sendLock)
        {
            _xenbusOnWire = false;
            while (_xenbusWaiting.TryDequeue(out XsRequest? request))
            {
                if (!request.BeginSend())
                {
                    request.OnSent(null);
                    continue;
                }

                try
                {
                    transport.Send(request.Message.AsSpan(0, request.MessageLength));
                }
                catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
                {
                    request.OnSent(new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"sending to {_endpoint} failed", e));
                    throw;
                }

                request.OnSent(null);
                _xenbusOnWire = true;
                return;
            }
        }
    }

    /// <summary>xenbus: the connection is gone; the requests still waiting to be written (already failed by the table's closing) drop the sender's hold.</summary>
    private void ReleaseXenbusWaiting(Exception reason)
    {
        lock (_sendLock)
        {
            _xenbusOnWire = false;
            while (_xenbusWaiting.TryDequeue(out XsRequest? request))
            {
                request.OnSent(reason);
            }
        }
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
