using System.Buffers.Binary;
using System.Net.Sockets;
using VirtualDevices.IO;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <content>The send side of the request engine: a request is built into its pooled buffer, registered in the request table and sent under the send lock; while disconnected it waits for the reconnection.</content>
public sealed partial class XenstoreClient
{
    private static readonly ReplyParser<bool> Acknowledged = static _ => true;

    private ValueTask CommandAsync(scoped OutgoingMessage message, string? path, CancellationToken cancellationToken)
    {
        PendingRequest<bool> pending = Prepare(message, path, Acknowledged, null);
        try
        {
            if (TrySend(pending, cancellationToken))
            {
                return pending.AsVoidValueTask();
            }
        }
        catch (Exception e)
        {
            pending.Recycle();
            return ValueTask.FromException(e);
        }

        return new ValueTask(SendAfterReconnectAsync(pending, cancellationToken).AsTask());
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
        PendingRequest<T> pending = Prepare(message, path, parser, defaultOnError);
        try
        {
            if (TrySend(pending, cancellationToken))
            {
                return pending.AsValueTask();
            }
        }
        catch (Exception e)
        {
            pending.Recycle();
            return ValueTask.FromException<T>(e);
        }

        return SendAfterReconnectAsync(pending, cancellationToken);
    }

    private PendingRequest<T> Prepare<T>(scoped OutgoingMessage message, string? path, ReplyParser<T> parser, string? defaultOnError)
    {
        PendingRequest<T> pending = PendingRequest<T>.Rent(_requests, _options.RunContinuationsAsynchronously, message.Type, path, parser, defaultOnError);
        pending.MessageLength = message.WriteTo(pending.Message);
        return pending;
    }

    /// <summary>
    /// Registers and sends the request on the current connection; false while disconnected (nothing registered).
    /// When it throws, the request is neither registered nor completed, so the caller may recycle it.
    /// </summary>
    private bool TrySend(PendingRequest pending, CancellationToken cancellationToken)
    {
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

                return false;
            }

            uint id = _requests.Register(pending);
            BinaryPrimitives.WriteUInt32LittleEndian(pending.Message.AsSpan(4), id);
            try
            {
                transport.Send(pending.Message.AsSpan(0, pending.MessageLength));
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
            {
                if (!_requests.Unregister(pending, id))
                {
                    // A disconnect already failed it: its caller gets that failure.
                    return true;
                }

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
                    return false;
                }

                throw new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"sending to {_endpoint} failed", e);
            }
        }

        if (cancellationToken.CanBeCanceled)
        {
            pending.Registration = cancellationToken.UnsafeRegister(static (state, token) => ((PendingRequest)state!).Cancel(token), pending);
        }

        return true;
    }

    private async ValueTask<T> SendAfterReconnectAsync<T>(PendingRequest<T> pending, CancellationToken cancellationToken)
    {
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(_options.ReconnectTimeout);
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

                if (TrySend(pending, cancellationToken))
                {
                    break;
                }
            }
        }
        catch
        {
            // Never registered: nobody else holds it.
            pending.Recycle();
            throw;
        }

        return await pending.AsValueTask().ConfigureAwait(false);
    }
}
