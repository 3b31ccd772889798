using System.Net.Security;
using System.Net.Sockets;
using VirtualDevices.IO;
using VirtualDevices.Nbd.Protocol;

namespace VirtualDevices.Nbd.Client;

/// <summary>Entry points of the NBD client: connect to an export, list a server's exports.</summary>
public static class NbdClient
{
    /// <summary>Connects to the export a URI names and returns it as a block device.</summary>
    /// <param name="uri">An NBD URI (<see cref="NbdUri"/>).</param>
    /// <param name="cancellationToken">Abandons connecting.</param>
    public static Task<NbdBlockDevice> ConnectAsync(string uri, CancellationToken cancellationToken = default) =>
        ConnectAsync(NbdUri.Parse(uri), cancellationToken);

    /// <summary>
    /// Connects (fixed newstyle; STARTTLS as <see cref="NbdClientOptions.Tls"/> says; extended headers or
    /// structured replies; <c>base:allocation</c>; NBD_OPT_GO with block sizes, or NBD_OPT_EXPORT_NAME for old
    /// servers) and returns the export as a block device. With <see cref="NbdClientOptions.Connections"/> above one
    /// and a server that allows multi-conn, that many connections are opened.
    /// </summary>
    /// <param name="options">Where and how to connect.</param>
    /// <param name="cancellationToken">Abandons connecting.</param>
    /// <exception cref="DeviceDisconnectedException">
    /// The server cannot be reached (nothing listens, or the unix socket does not exist) or hung up.
    /// </exception>
    /// <exception cref="NbdProtocolException">
    /// The server broke the protocol, or the connections of a multi-conn set disagree on the export's size or flags.
    /// </exception>
    /// <exception cref="DeviceException">
    /// Connecting (every connection of the set together) took longer than <see cref="NbdClientOptions.ConnectTimeout"/>
    /// (<c>NbdConnectTimeout</c>, category OperationTimeout). The server has no such export (<see cref="DeviceException.ErrorId"/> <c>DeviceNotFound</c>, category
    /// ObjectNotFound, "The server has no export named 'x'."), or TLS or an option was refused (<c>NbdTlsFailed</c>,
    /// <c>NbdOptionRefused</c>).
    /// </exception>
    public static async Task<NbdBlockDevice> ConnectAsync(NbdClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        string name = NbdBlockDevice.ResolveName(options);
        options = options with { DeviceName = name };
        var connections = new List<NbdClientConnection>();

        // One deadline for the whole set: a multi-conn connect ends within ConnectTimeout however many connections it opens.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            (NbdClientConnection first, NbdNegotiation negotiation) =
                await OpenAsync(options, Remaining(options, clock), "", cancellationToken).ConfigureAwait(false);
            connections.Add(first);
            if (options.Connections > 1 && (negotiation.Flags & NbdTransmissionFlags.CanMultiConnection) != 0)
            {
                for (int i = 1; i < options.Connections; i++)
                {
                    string which = $" (connection {i + 1} of {options.Connections})";
                    (NbdClientConnection next, NbdNegotiation again) =
                        await OpenAsync(options, Remaining(options, clock), which, cancellationToken).ConfigureAwait(false);
                    connections.Add(next);
                    if (again.Size != negotiation.Size || again.Flags != negotiation.Flags || again.MinimumBlockSize != negotiation.MinimumBlockSize
                        || again.ExtendedHeaders != negotiation.ExtendedHeaders || again.AllocationContextId is null != negotiation.AllocationContextId is null)
                    {
                        throw new NbdProtocolException(name, $"the connections of a multi-conn export disagree on its size or flags{which}: "
                            + $"{negotiation.Size} bytes, flags 0x{(ushort)negotiation.Flags:x4} on the first; {again.Size} bytes, flags 0x{(ushort)again.Flags:x4}");
                    }
                }
            }

            return new NbdBlockDevice(name, options, negotiation, [.. connections]);
        }
        catch
        {
            // None of them was started (no reading thread yet): disposing closes each socket and frees its buffers.
            foreach (NbdClientConnection connection in connections)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>What is left of the connect timeout (zero when it has run out, which then fails as a timeout).</summary>
    private static TimeSpan Remaining(NbdClientOptions options, System.Diagnostics.Stopwatch clock) =>
        options.ConnectTimeout == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan
            : options.ConnectTimeout - clock.Elapsed is { Ticks: > 0 } left ? left : TimeSpan.Zero;

    /// <summary>
    /// Lists the server's exports (NBD_OPT_LIST) with, where the server answers NBD_OPT_INFO, the size, flags and
    /// block sizes of each; then ends the session with NBD_OPT_ABORT.
    /// </summary>
    /// <param name="options">The server (the export name is ignored).</param>
    /// <param name="cancellationToken">Abandons the listing.</param>
    public static Task<IReadOnlyList<NbdExportInfo>> ListExportsAsync(NbdClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        // The handshake blocks (see Transport): a thread-pool thread does it, not the caller's.
        return Task.Run(() => ListOnThisThreadAsync(options, cancellationToken), CancellationToken.None);
    }

    private static async Task<IReadOnlyList<NbdExportInfo>> ListOnThisThreadAsync(NbdClientOptions options, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        TransportStream? stream = null;
        NbdOptionChannel? channel = null;
        try
        {
            Socket socket = await NbdClientHandshake.ConnectSocketAsync(options, timeout.Token).ConfigureAwait(false);
            stream = new TransportStream(new SocketTransport(socket, NbdUri.Format(options)));
            using CancellationTokenRegistration abort = stream.AbortOn(timeout.Token);
            using var input = new InputBuffer(stream.Transport, 16 * 1024);
            channel = new NbdOptionChannel(stream, input, options.DeviceName);
            (bool fixedNewstyle, _) = await NbdClientHandshake.GreetAsync(channel, options.DeviceName, timeout.Token).ConfigureAwait(false);
            if (!fixedNewstyle)
            {
                throw new DeviceUnimplementedException(options.DeviceName, "listing exports (the server is not fixed newstyle)");
            }

            await NbdClientHandshake.StartTlsAsync(channel, fixedNewstyle, options, timeout.Token).ConfigureAwait(false);
            return await NbdClientHandshake.ListAsync(channel, options, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (Translate(e, options, timeout, cancellationToken) is { } translated)
        {
            throw translated;
        }
        finally
        {
            if (channel is not null)
            {
                await channel.Stream.DisposeAsync().ConfigureAwait(false);
            }

            stream?.Dispose();
        }
    }

    /// <summary>Lists the exports of the server a URI names.</summary>
    /// <param name="uri">An NBD URI; its export name is ignored.</param>
    /// <param name="cancellationToken">Abandons the listing.</param>
    public static Task<IReadOnlyList<NbdExportInfo>> ListExportsAsync(string uri, CancellationToken cancellationToken = default) =>
        ListExportsAsync(NbdUri.Parse(uri), cancellationToken);

    /// <summary>Connects and negotiates one connection; the handshake blocks, so a thread-pool thread does it.</summary>
    /// <param name="options">Where and how to connect.</param>
    /// <param name="timeLeft">What is left of the connect timeout for this connection.</param>
    /// <param name="which">Which connection of a multi-conn set this is, for error messages ("" for the first).</param>
    /// <param name="cancellationToken">The caller's.</param>
    private static Task<(NbdClientConnection, NbdNegotiation)> OpenAsync(NbdClientOptions options, TimeSpan timeLeft, string which, CancellationToken cancellationToken) =>
        Task.Run(() => OpenOnThisThreadAsync(options, timeLeft, which, cancellationToken), CancellationToken.None);

    private static async Task<(NbdClientConnection, NbdNegotiation)> OpenOnThisThreadAsync(NbdClientOptions options, TimeSpan timeLeft, string which,
        CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(timeLeft);
        TransportStream? stream = null;
        InputBuffer? input = null;
        NbdOptionChannel? channel = null;
        try
        {
            Socket socket = await NbdClientHandshake.ConnectSocketAsync(options, timeout.Token).ConfigureAwait(false);
            stream = new TransportStream(new SocketTransport(socket, NbdUri.Format(options)));

            // Every wait below is a blocking call on the socket: the token ends it by closing the socket.
            using CancellationTokenRegistration abort = stream.AbortOn(timeout.Token);
            input = new InputBuffer(stream.Transport);
            channel = new NbdOptionChannel(stream, input, options.DeviceName);
            (bool fixedNewstyle, bool noZeroes) = await NbdClientHandshake.GreetAsync(channel, options.DeviceName, timeout.Token).ConfigureAwait(false);
            bool tls = await NbdClientHandshake.StartTlsAsync(channel, fixedNewstyle, options, timeout.Token).ConfigureAwait(false);
            NbdNegotiation negotiation = await NbdClientHandshake.NegotiateAsync(channel, options, fixedNewstyle, noZeroes, tls, timeout.Token).ConfigureAwait(false);
            abort.Dispose();
            timeout.Token.ThrowIfCancellationRequested();
            return (new NbdClientConnection(options.DeviceName!, stream.Transport, channel.Stream as SslStream, input, negotiation, options), negotiation);
        }
        catch (Exception e)
        {
            if (channel is not null)
            {
                await channel.Stream.DisposeAsync().ConfigureAwait(false);
            }

            stream?.Dispose();
            input?.Dispose();
            if (Translate(e, options, timeout, cancellationToken, which) is { } translated)
            {
                throw translated;
            }

            throw;
        }
    }

    /// <summary>Turns transport failures during the handshake into the device error hierarchy.</summary>
    private static Exception? Translate(Exception e, NbdClientOptions options, CancellationTokenSource timeout, CancellationToken cancellationToken,
        string which = "")
    {
        // A cancelled handshake ends with whatever the closed socket made the blocked call throw.
        if (cancellationToken.IsCancellationRequested)
        {
            return e is OperationCanceledException ? null : new OperationCanceledException("Connecting was cancelled.", e, cancellationToken);
        }

        if (timeout.IsCancellationRequested && e is OperationCanceledException or EndOfStreamException or IOException or SocketException or ObjectDisposedException)
        {
            return new DeviceException(DeviceErrorIds.Nbd.ConnectTimeout, DeviceErrorCategory.OperationTimeout,
                $"{NbdUri.Format(options)}{which}: no answer within {options.ConnectTimeout.TotalSeconds:0.#} s", options.DeviceName, e);
        }

        return e switch
        {
            EndOfStreamException or IOException or SocketException or ObjectDisposedException =>
                new DeviceDisconnectedException(options.DeviceName, $"{NbdUri.Format(options)}{which}: the server hung up during the handshake ({e.Message})", e),
            _ => null,
        };
    }
}
