using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using VirtualDevices.Block;
using VirtualDevices.IO;
using VirtualDevices.Nbd.Protocol;

namespace VirtualDevices.Nbd.Server;

/// <summary>The handshake: greeting, option haggling, STARTTLS, and entering an export.</summary>
internal sealed partial class NbdServerConnection
{
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
        _input.ReplaceTransport(new StreamTransport(ssl, _transport));
        _stream = ssl;
        _tls = true;

        // The spec: no negotiation state survives STARTTLS.
        _structured = _extended = false;
        _metaContextExport = null;
    }

    private static bool ValidateClient(X509Certificate? certificate, X509Certificate2Collection authorities)
    {
        return certificate is not null && NbdTlsTrust.ChainsToAuthorities(certificate, authorities);
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
}
