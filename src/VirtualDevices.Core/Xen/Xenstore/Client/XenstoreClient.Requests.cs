using System.Buffers.Binary;
using System.Net.Sockets;
using VirtualDevices.IO;
using VirtualDevices.Xen.Xenstore.Protocol;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <content>The send side of the request engine: a request is built into its pooled buffer, registered in the request table and sent under the send lock; while disconnected it waits for the reconnection.</content>
public sealed partial class XenstoreClient
{
    private RequestTable<XsRequest> NewRequestTable() => new(static () => new XsRequest(), idBits: 32);

    private ValueTask CommandAsync(scoped OutgoingMessage message, string? path, CancellationToken cancellationToken)
    {
        if (message.PayloadLength > _payloadMax)
        {
            return ValueTask.FromException(OutgoingMessage.TooBig(message.Type, path, message.PayloadLength, _payloadMax));
        }

        try
        {
            if (TrySend<bool>(message, null, 0, path, null, null, null, cancellationToken, out RequestTable<XsRequest>? _) is { } request)
            {
                return request.AsResultlessValueTask();
            }
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }

        return new ValueTask(SendLaterAsync<bool>(Serialize(message), path, null, null, cancellationToken).AsTask());
    }

    /// <summary>
    /// Sends a request and returns its reply parsed by <paramref name="parser"/> (an error reply named ENOENT yields the
    /// default value when <paramref name="missingIsDefault"/>). The value task is backed by the pooled request itself,
    /// so a round trip allocates nothing apart from what the parser returns.
    /// </summary>
    private ValueTask<T> RequestAsync<T>(scoped OutgoingMessage message, string? path, ReplyParser<T> parser, bool missingIsDefault, CancellationToken cancellationToken) =>
        RequestAsync(message, path, parser, missingIsDefault ? "ENOENT" : null, cancellationToken);

    /// <summary>As above; an error reply named <paramref name="defaultOnError"/> yields the default value instead of an exception.</summary>
    private ValueTask<T> RequestAsync<T>(scoped OutgoingMessage message, string? path, ReplyParser<T> parser, string? defaultOnError, CancellationToken cancellationToken)
    {
        if (message.PayloadLength > _payloadMax)
        {
            // Refused here, before anything is registered or sent: the connection stays usable.
            return ValueTask.FromException<T>(OutgoingMessage.TooBig(message.Type, path, message.PayloadLength, _payloadMax));
        }

        try
        {
            if (TrySend(message, null, 0, path, parser, defaultOnError, null, cancellationToken, out RequestTable<XsRequest>? _) is { } request)
            {
                return new ValueTask<T>(request.ViewFor<T>(), request.Version);
            }
        }
        catch (Exception e)
        {
            return ValueTask.FromException<T>(e);
        }

        return SendLaterAsync(Serialize(message), path, parser, defaultOnError, cancellationToken);
    }

    /// <summary>The message's bytes, for a request that must wait (for the connection, or for a free request id).</summary>
    private static (byte[] Bytes, XenstoreMessageType Type) Serialize(scoped OutgoingMessage message)
    {
        byte[] bytes = new byte[MaxMessageSize];
        int length = message.WriteTo(bytes);
        return (bytes[..length], message.Type);
    }

    /// <summary>
    /// Rents a request from the current connection's table, builds the message into it (from <paramref name="message"/>,
    /// or from <paramref name="serialized"/> when not null), puts it in the table and sends it, all under the send lock;
    /// null while disconnected, or when every request id is in use (then <paramref name="full"/> is the table to wait
    /// on), or when the send failed and the client reconnects (nothing is left registered). A typed request's reply is
    /// parsed by <paramref name="parser"/>; a command (null parser) only succeeds or fails.
    /// </summary>
    private XsRequest? TrySend<T>(scoped OutgoingMessage message, byte[]? serialized, XenstoreMessageType serializedType, string? path,
        ReplyParser<T>? parser, string? defaultOnError, XsRequest? rented, CancellationToken cancellationToken, out RequestTable<XsRequest>? full)
    {
        full = null;
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_sendLock)
        {
            Transport? transport = _transport;
            if (transport is null)
            {
                if (_reconnect is null || IsDisposed)
                {
                    throw new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"the connection to {_endpoint} is closed");
                }

                return null;
            }

            RequestTable<XsRequest> table = _table;
            XsRequest request;
            if (rented is not null && rented.Id == table.IdOf(rented) && table.SlotAt(rented.Index) == rented)
            {
                request = rented;
            }
            else if (!table.TryRent(out request))
            {
                full = table;
                return null;
            }

            XenstoreMessageType type;
            if (serialized is null)
            {
                request.MessageLength = message.WriteTo(request.Message);
                type = message.Type;
            }
            else
            {
                serialized.CopyTo(request.Message, 0);
                request.MessageLength = serialized.Length;
                type = serializedType;
            }

            request.Prepare(type, path, parser is null ? null : request.ViewFor<T>(), parser, defaultOnError);
            BinaryPrimitives.WriteUInt32LittleEndian(request.Message.AsSpan(4), (uint)request.Id);
            request.Start(_options.RunContinuationsAsynchronously);
            request.RegisterCancellation(cancellationToken);
            if (_xenbus && _xenbusOnWire)
            {
                // The device still holds the payload of the request on the wire (see _xenbus): this one is written
                // by the reader when that reply comes. A cancellation meanwhile drops it there (BeginSend).
                _xenbusWaiting.Enqueue(request);
                return request;
            }

            if (!request.BeginSend())
            {
                // Cancelled as it was about to go: never sent, it left the table and its caller gets the cancellation.
                request.OnSent(null);
                return request;
            }

            try
            {
                // One whole message per write(2): the xenbus device acts on the first message of a write only.
                transport.Send(request.Message.AsSpan(0, request.MessageLength));
                _xenbusOnWire = _xenbus;
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
            {
                request.Abandon(e);
                if (_reconnect is not null && !IsDisposed)
                {
                    // The peer went away before the reader noticed: drop the connection now (waking the reader, which
                    // reconnects) and let the request wait for the new one, as a request sent a moment later would.
                    _transport = null;
                    if (_connected.Task.IsCompleted)
                    {
                        _connected = NewConnectedSignal(completed: false);
                    }

                    transport.Dispose();
                    return null;
                }

                throw new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"sending to {_endpoint} failed", e);
            }

            request.OnSent(null);
            return request;
        }
    }

    /// <summary>
    /// The slow path: waits for the connection (at most <see cref="XenstoreClientOptions.ReconnectTimeout"/>) or for a
    /// free request id (when 65,536 are in flight), then sends.
    /// </summary>
    private async ValueTask<T> SendLaterAsync<T>((byte[] Bytes, XenstoreMessageType Type) message, string? path, ReplyParser<T>? parser,
        string? defaultOnError, CancellationToken cancellationToken)
    {
        XsRequest? request;
        using (var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            limit.CancelAfter(_options.ReconnectTimeout);
            XsRequest? rented = null;
            while (true)
            {
                Task connected;
                lock (_sendLock)
                {
                    connected = _connected.Task;
                }

                try
                {
                    await connected.WaitAsync(limit.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName,
                        $"no connection to {_endpoint} within {_options.ReconnectTimeout}");
                }

                request = TrySend(default, message.Bytes, message.Type, path, parser, defaultOnError, rented, cancellationToken, out RequestTable<XsRequest>? full);
                if (request is not null)
                {
                    break;
                }

                // A request rented from a table that has since closed is simply dropped with it.
                rented = full is null ? null : await full.RentAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        if (parser is null)
        {
            await request.AsResultlessValueTask().ConfigureAwait(false);
            return default!;
        }

        return await new ValueTask<T>(request.ViewFor<T>(), request.Version).ConfigureAwait(false);
    }
}
