using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using VirtualDevices.Nbd.Protocol;

namespace VirtualDevices.Nbd.Client;

/// <summary>The client's handshake: connecting, the fixed newstyle greeting, STARTTLS, and option haggling.</summary>
internal static class NbdClientHandshake
{
    /// <summary>
    /// Opens the TCP or unix socket the options point at, with blocking calls only, so that the socket stays in
    /// blocking mode (see <see cref="IO.Transport"/>). <paramref name="cancellationToken"/> closes the socket, which
    /// ends a blocking connect.
    /// </summary>
    public static async Task<Socket> ConnectSocketAsync(NbdClientOptions options, CancellationToken cancellationToken)
    {
        try
        {
            if (!string.IsNullOrEmpty(options.SocketPath))
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                NbdSocketTuning.Apply(socket);
                return Connect(socket, new UnixDomainSocketEndPoint(options.SocketPath), cancellationToken);
            }

            IPAddress[] addresses = IPAddress.TryParse(options.Host, out IPAddress? literal)
                ? [literal]
                : await Dns.GetHostAddressesAsync(options.Host!, cancellationToken).ConfigureAwait(false);
            SocketException? last = null;
            foreach (IPAddress address in addresses)
            {
                try
                {
                    var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    return Connect(socket, new IPEndPoint(address, options.Port), cancellationToken);
                }
                catch (SocketException e)
                {
                    // Try the host's next address, as a browser would.
                    last = e;
                }
            }

            throw last ?? new SocketException((int)SocketError.HostNotFound);
        }
        catch (SocketException e)
        {
            // A missing socket, a refused connection or a denied one has the id every client of the module uses
            // for it (SocketNotFound, ConnectionRefused, ConnectAccessDenied); anything else is a disconnection.
            bool unix = !string.IsNullOrEmpty(options.SocketPath);
            string where = unix ? options.SocketPath! : $"{options.Host}:{options.Port}";
            if (Devices.SocketErrors.Connect(e, where, unix ? options.SocketPath : null) is { } known)
            {
                throw new DeviceException(known.Id, known.Category, $"Device '{options.DeviceName}': cannot connect to {NbdUri.Format(options)}: {known.Reason}.",
                    options.DeviceName, e);
            }

            throw new DeviceDisconnectedException(options.DeviceName,
                $"cannot connect to {NbdUri.Format(options)}: {e.Message}{(unix ? $" (socket '{options.SocketPath}')" : string.Empty)}", e);
        }
    }

    /// <summary>A blocking connect that the token can end (by closing the socket); disposes the socket on failure.</summary>
    private static Socket Connect(Socket socket, EndPoint endPoint, CancellationToken cancellationToken)
    {
        try
        {
            using (cancellationToken.UnsafeRegister(static state => ((Socket)state!).Dispose(), socket))
            {
                cancellationToken.ThrowIfCancellationRequested();
                socket.Connect(endPoint);
            }

            cancellationToken.ThrowIfCancellationRequested();
            return socket;
        }
        catch (Exception e)
        {
            socket.Dispose();
            if (e is ObjectDisposedException or SocketException && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }

            throw;
        }
    }

    /// <summary>Reads the greeting and answers it; returns whether fixed newstyle and no-zeroes are in force.</summary>
    public static async ValueTask<(bool Fixed, bool NoZeroes)> GreetAsync(NbdOptionChannel channel, string? deviceName, CancellationToken cancellationToken)
    {
        channel.Input.Fill(16);
        ReadOnlySpan<byte> greeting = channel.Input.Take(16);
        ulong password = BinaryPrimitives.ReadUInt64BigEndian(greeting);
        ulong magic = BinaryPrimitives.ReadUInt64BigEndian(greeting[8..]);
        if (password != NbdMagic.InitPassword)
        {
            throw new NbdProtocolException(deviceName, $"not an NBD server (greeting 0x{password:x16})");
        }

        if (magic == NbdMagic.OldstyleMagic)
        {
            throw new NbdProtocolException(deviceName, "the server uses oldstyle negotiation, which is not supported (nbd-server dropped it in 3.10)");
        }

        if (magic != NbdMagic.OptionMagic)
        {
            throw new NbdProtocolException(deviceName, $"bad handshake magic 0x{magic:x16}");
        }

        channel.Input.Fill(2);
        var serverFlags = (NbdHandshakeFlags)BinaryPrimitives.ReadUInt16BigEndian(channel.Input.Take(2));
        // Answer only the flags the server offered: a server must drop a client that sets anything else.
        NbdHandshakeFlags clientFlags = serverFlags & (NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes);
        byte[] reply = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(reply, (uint)clientFlags);
        await channel.Stream.WriteAsync(reply, cancellationToken).ConfigureAwait(false);
        return ((clientFlags & NbdHandshakeFlags.FixedNewstyle) != 0, (clientFlags & NbdHandshakeFlags.NoZeroes) != 0);
    }

    /// <summary>Upgrades to TLS as the options ask; returns whether TLS is now in force.</summary>
    public static async ValueTask<bool> StartTlsAsync(NbdOptionChannel channel, bool fixedNewstyle, NbdClientOptions options, CancellationToken cancellationToken)
    {
        if (options.Tls == NbdTlsMode.Off)
        {
            return false;
        }

        if (!fixedNewstyle)
        {
            return options.Tls == NbdTlsMode.Require
                ? throw TlsError(options, "the server does not support fixed newstyle negotiation, so it cannot do TLS")
                : false;
        }

        await channel.SendAsync(NbdOption.StartTls, default, cancellationToken).ConfigureAwait(false);
        (NbdOptionReply type, byte[] data) = await channel.ReceiveAsync(NbdOption.StartTls, cancellationToken).ConfigureAwait(false);
        if (type != NbdOptionReply.Ack)
        {
            return options.Tls == NbdTlsMode.Require
                ? throw TlsError(options, "the server refused STARTTLS (" + NbdOptionChannel.Describe(type, data) + ")")
                : false;
        }

        var ssl = new SslStream(channel.Stream, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsClientAsync(CreateTlsOptions(options), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw TlsError(options, "the TLS handshake failed: " + e.Message, e);
        }

        channel.ReplaceStream(ssl);
        return true;
    }

    /// <summary>Negotiates extensions and enters transmission with the export the options name.</summary>
    public static async ValueTask<NbdNegotiation> NegotiateAsync(NbdOptionChannel channel, NbdClientOptions options, bool fixedNewstyle, bool noZeroes, bool tls,
        CancellationToken cancellationToken)
    {
        string? device = options.DeviceName;
        if (!fixedNewstyle)
        {
            return await ExportNameAsync(channel, options, noZeroes, tls, structured: false, cancellationToken).ConfigureAwait(false);
        }

        bool extended = false;
        bool structured = false;
        if (options.RequestStructuredReplies && options.RequestExtendedHeaders)
        {
            extended = await SimpleOptionAsync(channel, NbdOption.ExtendedHeaders, options, cancellationToken).ConfigureAwait(false);
            structured = extended;
        }

        if (!structured && options.RequestStructuredReplies)
        {
            structured = await SimpleOptionAsync(channel, NbdOption.StructuredReply, options, cancellationToken).ConfigureAwait(false);
        }

        uint? allocationContext = null;
        if (structured && options.RequestBlockStatus)
        {
            allocationContext = await SetMetaContextAsync(channel, options, cancellationToken).ConfigureAwait(false);
        }

        byte[] request = InfoRequest(options.ExportName, NbdInfoType.BlockSize, NbdInfoType.Description);
        await channel.SendAsync(NbdOption.Go, request, cancellationToken).ConfigureAwait(false);
        var info = new InfoReplies();
        while (true)
        {
            (NbdOptionReply type, byte[] data) = await channel.ReceiveAsync(NbdOption.Go, cancellationToken).ConfigureAwait(false);
            if (type == NbdOptionReply.Info)
            {
                info.Add(data, device);
                continue;
            }

            if (type == NbdOptionReply.Ack)
            {
                break;
            }

            if (type == NbdOptionReply.ErrorUnsupported)
            {
                // A server from before NBD_OPT_GO: the old way still works, without errors or block sizes.
                return await ExportNameAsync(channel, options, noZeroes, tls, structured, cancellationToken).ConfigureAwait(false);
            }

            throw OptionError(options, NbdOption.Go, type, data);
        }

        if (info.Size is not long size)
        {
            throw new NbdProtocolException(device, "NBD_OPT_GO succeeded without NBD_INFO_EXPORT");
        }

        return new NbdNegotiation
        {
            ExportName = options.ExportName,
            Description = info.Description ?? "",
            Size = size,
            Flags = info.Flags,
            MinimumBlockSize = info.Minimum,
            PreferredBlockSize = info.Preferred,
            MaximumBlockSize = info.Maximum,
            StructuredReplies = structured,
            ExtendedHeaders = extended,
            AllocationContextId = allocationContext,
            Tls = tls,
        };
    }

    /// <summary>Lists the exports, with their sizes and flags where the server answers NBD_OPT_INFO, then aborts.</summary>
    public static async ValueTask<IReadOnlyList<NbdExportInfo>> ListAsync(NbdOptionChannel channel, NbdClientOptions options, CancellationToken cancellationToken)
    {
        await channel.SendAsync(NbdOption.List, default, cancellationToken).ConfigureAwait(false);
        var entries = new List<(string Name, string Description)>();
        while (true)
        {
            (NbdOptionReply type, byte[] data) = await channel.ReceiveAsync(NbdOption.List, cancellationToken).ConfigureAwait(false);
            if (type == NbdOptionReply.Ack)
            {
                break;
            }

            if (type != NbdOptionReply.Server)
            {
                throw OptionError(options, NbdOption.List, type, data);
            }

            if (data.Length < 4 || BinaryPrimitives.ReadUInt32BigEndian(data) > data.Length - 4)
            {
                throw new NbdProtocolException(options.DeviceName, "malformed NBD_REP_SERVER");
            }

            int nameLength = (int)BinaryPrimitives.ReadUInt32BigEndian(data);
            entries.Add((NbdOptionChannel.DecodeString(data.AsSpan(4, nameLength)), NbdOptionChannel.DecodeString(data.AsSpan(4 + nameLength))));
        }

        var result = new List<NbdExportInfo>(entries.Count);
        foreach ((string name, string description) in entries)
        {
            await channel.SendAsync(NbdOption.Info, InfoRequest(name, NbdInfoType.BlockSize, NbdInfoType.Description), cancellationToken).ConfigureAwait(false);
            var info = new InfoReplies();
            bool answered = false;
            while (true)
            {
                (NbdOptionReply type, byte[] data) = await channel.ReceiveAsync(NbdOption.Info, cancellationToken).ConfigureAwait(false);
                if (type == NbdOptionReply.Info)
                {
                    info.Add(data, options.DeviceName);
                    continue;
                }

                answered = type == NbdOptionReply.Ack;
                break;
            }

            result.Add(new NbdExportInfo(
                name,
                info.Description ?? description,
                answered && info.Size is long size ? size : -1,
                answered ? info.Flags : NbdTransmissionFlags.None,
                info.Minimum == 0 ? 1 : info.Minimum,
                info.Preferred == 0 ? 4096 : info.Preferred,
                (int)Math.Min(info.Maximum, int.MaxValue)));
        }

        await AbortAsync(channel, cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>Ends option haggling politely (NBD_OPT_ABORT); a server that just closes is fine too.</summary>
    public static async ValueTask AbortAsync(NbdOptionChannel channel, CancellationToken cancellationToken)
    {
        try
        {
            await channel.SendAsync(NbdOption.Abort, default, cancellationToken).ConfigureAwait(false);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(TimeSpan.FromSeconds(2));

            // The wait is a blocking read: after two seconds the socket is closed under it (the session ends anyway).
            using CancellationTokenRegistration close = channel.Transport.AbortOn(wait.Token);
            _ = await channel.ReceiveAsync(NbdOption.Abort, wait.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or OperationCanceledException or NbdProtocolException or ObjectDisposedException)
        {
            // The spec lets a server close without replying to NBD_OPT_ABORT.
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private static async ValueTask<NbdNegotiation> ExportNameAsync(NbdOptionChannel channel, NbdClientOptions options, bool noZeroes, bool tls, bool structured,
        CancellationToken cancellationToken)
    {
        await channel.SendAsync(NbdOption.ExportName, Encoding.UTF8.GetBytes(options.ExportName), cancellationToken).ConfigureAwait(false);
        int length = noZeroes ? 10 : 134;
        try
        {
            channel.Input.Fill(length);
        }
        catch (EndOfStreamException e)
        {
            // NBD_OPT_EXPORT_NAME cannot report errors: the server just hangs up on an export it will not serve.
            throw ExportNotFound(options, e);
        }

        ReadOnlySpan<byte> reply = channel.Input.Take(length);
        return new NbdNegotiation
        {
            ExportName = options.ExportName,
            Size = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(reply), long.MaxValue),
            Flags = (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(reply[8..]),
            StructuredReplies = structured,
            Tls = tls,
        };
    }

    private static async ValueTask<bool> SimpleOptionAsync(NbdOptionChannel channel, NbdOption option, NbdClientOptions options, CancellationToken cancellationToken)
    {
        await channel.SendAsync(option, default, cancellationToken).ConfigureAwait(false);
        (NbdOptionReply type, byte[] data) = await channel.ReceiveAsync(option, cancellationToken).ConfigureAwait(false);
        if (type == NbdOptionReply.ErrorTlsRequired)
        {
            throw TlsError(options, "the server requires TLS (" + NbdOptionChannel.Describe(type, data) + ")");
        }

        if (type != NbdOptionReply.Ack && !NbdOptionChannel.IsError(type))
        {
            throw new NbdProtocolException(options.DeviceName, $"unexpected reply 0x{(uint)type:x} to option {option}");
        }

        return type == NbdOptionReply.Ack;
    }

    private static async ValueTask<uint?> SetMetaContextAsync(NbdOptionChannel channel, NbdClientOptions options, CancellationToken cancellationToken)
    {
        byte[] name = Encoding.UTF8.GetBytes(options.ExportName);
        byte[] query = Encoding.UTF8.GetBytes(NbdMetaContexts.BaseAllocation);
        byte[] data = new byte[4 + name.Length + 4 + 4 + query.Length];
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)name.Length);
        name.CopyTo(data, 4);
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(4 + name.Length), 1);
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(8 + name.Length), (uint)query.Length);
        query.CopyTo(data, 12 + name.Length);
        await channel.SendAsync(NbdOption.SetMetaContext, data, cancellationToken).ConfigureAwait(false);
        uint? id = null;
        while (true)
        {
            (NbdOptionReply type, byte[] reply) = await channel.ReceiveAsync(NbdOption.SetMetaContext, cancellationToken).ConfigureAwait(false);
            if (type == NbdOptionReply.MetaContext)
            {
                if (reply.Length < 4)
                {
                    throw new NbdProtocolException(options.DeviceName, "malformed NBD_REP_META_CONTEXT");
                }

                if (NbdOptionChannel.DecodeString(reply.AsSpan(4)) == NbdMetaContexts.BaseAllocation)
                {
                    id = BinaryPrimitives.ReadUInt32BigEndian(reply);
                }

                continue;
            }

            // An error reply means no contexts were selected, whatever came before it.
            return type == NbdOptionReply.Ack ? id : null;
        }
    }

    private static byte[] InfoRequest(string exportName, params NbdInfoType[] items)
    {
        byte[] name = Encoding.UTF8.GetBytes(exportName);
        byte[] data = new byte[4 + name.Length + 2 + (2 * items.Length)];
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)name.Length);
        name.CopyTo(data, 4);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(4 + name.Length), (ushort)items.Length);
        for (int i = 0; i < items.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(6 + name.Length + (2 * i)), (ushort)items[i]);
        }

        return data;
    }

    private static SslClientAuthenticationOptions CreateTlsOptions(NbdClientOptions options)
    {
        var trusted = new X509Certificate2Collection();
        if (options.TlsTrustedCertificates is not null)
        {
            trusted.AddRange(options.TlsTrustedCertificates);
        }

        X509Certificate2? clientCertificate = options.TlsClientCertificate;
        if (options.TlsCertificatesDirectory is { } directory)
        {
            string ca = Path.Combine(directory, "ca-cert.pem");
            if (File.Exists(ca))
            {
                trusted.ImportFromPemFile(ca);
            }

            string cert = Path.Combine(directory, "client-cert.pem");
            string key = Path.Combine(directory, "client-key.pem");
            if (clientCertificate is null && File.Exists(cert) && File.Exists(key))
            {
                clientCertificate = X509Certificate2.CreateFromPemFile(cert, key);
            }
        }

        string? expectedName = options.TlsHostname ?? (string.IsNullOrEmpty(options.SocketPath) ? options.Host : null);
        return new SslClientAuthenticationOptions
        {
            TargetHost = expectedName ?? "localhost",
            ClientCertificates = clientCertificate is null ? null : [clientCertificate],
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                !options.TlsVerifyPeer || ValidateServer(certificate, errors, trusted, checkName: expectedName is not null),
        };
    }

    private static bool ValidateServer(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2Collection trusted, bool checkName)
    {
        if (certificate is null)
        {
            return false;
        }

        if (checkName && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }

        if ((errors & SslPolicyErrors.RemoteCertificateChainErrors) == 0)
        {
            return true;
        }

        if (trusted.Count == 0)
        {
            return false;
        }

        // The system store does not know the test or site authority: build the chain against the given roots only.
        return NbdTlsTrust.ChainsToAuthorities(certificate, trusted);
    }

    /// <summary>
    /// The server has no export of the requested name: <c>DeviceNotFound</c> (category ObjectNotFound), the id a
    /// missing device has everywhere, with a message that names the export rather than a device.
    /// </summary>
    internal static DeviceNotFoundException ExportNotFound(NbdClientOptions options, Exception? inner = null) =>
        new(options.DeviceName,
            options.ExportName.Length == 0
                ? $"The server at {NbdUri.Format(options)} has no default export (the export named '')."
                : $"The server has no export named '{options.ExportName}'.",
            inner);

    private static DeviceException TlsError(NbdClientOptions options, string detail, Exception? inner = null) =>
        new("NbdTlsFailed", DeviceErrorCategory.PermissionDenied, $"{NbdUri.Format(options)}: {detail}", options.DeviceName, inner);

    private static DeviceException OptionError(NbdClientOptions options, NbdOption option, NbdOptionReply type, byte[] data)
    {
        string detail = NbdOptionChannel.Describe(type, data);
        return type switch
        {
            NbdOptionReply.ErrorUnknown => ExportNotFound(options),
            NbdOptionReply.ErrorTlsRequired => TlsError(options, "the server requires TLS for this export (" + detail + ")"),
            NbdOptionReply.ErrorPolicy => new DeviceException(DeviceErrorIds.Nbd.OptionRefused, DeviceErrorCategory.PermissionDenied, $"{NbdUri.Format(options)}: {option} refused: {detail}", options.DeviceName),
            NbdOptionReply.ErrorShutdown => new DeviceDisconnectedException(options.DeviceName, "the server is shutting down"),
            _ when NbdOptionChannel.IsError(type) => new DeviceException(DeviceErrorIds.Nbd.OptionRefused, DeviceErrorCategory.NotSpecified, $"{NbdUri.Format(options)}: {option} failed: {detail}", options.DeviceName),
            _ => new NbdProtocolException(options.DeviceName, $"unexpected reply 0x{(uint)type:x} to {option}"),
        };
    }

    /// <summary>Collects the NBD_REP_INFO items of one INFO or GO.</summary>
    private sealed class InfoReplies
    {
        public long? Size;
        public NbdTransmissionFlags Flags;
        public int Minimum;
        public int Preferred;
        public uint Maximum;
        public string? Description;

        public void Add(byte[] data, string? device)
        {
            if (data.Length < 2)
            {
                throw new NbdProtocolException(device, "NBD_REP_INFO without a type");
            }

            switch ((NbdInfoType)BinaryPrimitives.ReadUInt16BigEndian(data))
            {
                case NbdInfoType.Export:
                    if (data.Length != 12)
                    {
                        throw new NbdProtocolException(device, $"NBD_INFO_EXPORT of {data.Length} bytes (12 expected)");
                    }

                    ulong size = BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(2));
                    if (size > long.MaxValue)
                    {
                        throw new NbdProtocolException(device, $"export size {size} is beyond 2^63");
                    }

                    Size = (long)size;
                    Flags = (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(10));
                    break;
                case NbdInfoType.BlockSize:
                    if (data.Length != 14)
                    {
                        throw new NbdProtocolException(device, $"NBD_INFO_BLOCK_SIZE of {data.Length} bytes (14 expected)");
                    }

                    uint minimum = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(2));
                    uint preferred = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(6));
                    uint maximum = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(10));
                    if (minimum is 0 or > 65536 || !uint.IsPow2(minimum) || preferred < minimum || !uint.IsPow2(preferred)
                        || (maximum != uint.MaxValue && (maximum < minimum || maximum % minimum != 0)))
                    {
                        throw new NbdProtocolException(device, $"invalid block size constraints {minimum}/{preferred}/{maximum}");
                    }

                    (Minimum, Preferred, Maximum) = ((int)minimum, (int)Math.Min(preferred, 1u << 30), maximum);
                    break;
                case NbdInfoType.Description:
                    Description = NbdOptionChannel.DecodeString(data.AsSpan(2));
                    break;
                default:
                    break; // The spec asks clients to ignore what they do not know.
            }
        }
    }
}
