using System.Buffers.Binary;
using System.Text;
using VirtualDevices.IO;

namespace VirtualDevices.Nbd.Protocol;

/// <summary>
/// The client's side of option haggling: sends one option and reads its replies. Handshake messages are few, so
/// this path favours clarity (and strict bounds on what a server may send) over avoiding allocations.
/// </summary>
internal sealed class NbdOptionChannel
{
    /// <summary>No option reply this client understands is longer than this; a larger one is a hostile server.</summary>
    public const int MaximumReplyLength = 64 * 1024;

    private readonly string? _deviceName;

    public NbdOptionChannel(TransportStream stream, InputBuffer input, string? deviceName)
    {
        Stream = stream;
        Transport = stream;
        Input = input;
        _deviceName = deviceName;
    }

    public Stream Stream { get; private set; }

    /// <summary>The socket underneath (under TLS too): closing it is what ends a blocked wait.</summary>
    public TransportStream Transport { get; }

    public InputBuffer Input { get; }

    /// <summary>Switches to TLS over the transport: handshake messages go through the stream, replies through the input buffer.</summary>
    public void ReplaceStream(Stream stream)
    {
        Input.ReplaceTransport(new StreamTransport(stream, Transport.Transport));
        Stream = stream;
    }

    public async ValueTask SendAsync(NbdOption option, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        byte[] message = new byte[16 + data.Length];
        BinaryPrimitives.WriteUInt64BigEndian(message, NbdMagic.OptionMagic);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(8), (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(12), (uint)data.Length);
        data.Span.CopyTo(message.AsSpan(16));
        await Stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        await Stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads one reply to <paramref name="option"/>.</summary>
    public async ValueTask<(NbdOptionReply Type, byte[] Data)> ReceiveAsync(NbdOption option, CancellationToken cancellationToken)
    {
        Input.Fill(20);
        ReadOnlySpan<byte> header = Input.Take(20);
        ulong magic = BinaryPrimitives.ReadUInt64BigEndian(header);
        uint replyOption = BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
        var type = (NbdOptionReply)BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[16..]);
        if (magic != NbdMagic.OptionReplyMagic)
        {
            throw new NbdProtocolException(_deviceName, $"bad option reply magic 0x{magic:x16}");
        }

        if (replyOption != (uint)option)
        {
            throw new NbdProtocolException(_deviceName, $"reply to option {replyOption} while waiting for option {(uint)option}");
        }

        if (length > MaximumReplyLength)
        {
            throw new NbdProtocolException(_deviceName, $"option reply of {length} bytes is too large");
        }

        byte[] data = new byte[length];
        Input.ReadExactly(data);
        return (type, data);
    }

    /// <summary>The message carried by an error reply, or a description of the error type.</summary>
    public static string Describe(NbdOptionReply type, byte[] data)
    {
        string name = type switch
        {
            NbdOptionReply.ErrorUnsupported => "unsupported",
            NbdOptionReply.ErrorPolicy => "refused by policy",
            NbdOptionReply.ErrorInvalid => "invalid",
            NbdOptionReply.ErrorPlatform => "not available on the server's platform",
            NbdOptionReply.ErrorTlsRequired => "TLS required",
            NbdOptionReply.ErrorUnknown => "unknown export",
            NbdOptionReply.ErrorShutdown => "server shutting down",
            NbdOptionReply.ErrorBlockSizeRequired => "block size negotiation required",
            NbdOptionReply.ErrorTooBig => "request too big",
            NbdOptionReply.ErrorExtendedHeaderRequired => "extended headers required",
            _ => $"error 0x{(uint)type:x8}",
        };
        return data.Length == 0 ? name : $"{name}: {DecodeString(data)}";
    }

    public static bool IsError(NbdOptionReply type) => ((uint)type & 0x80000000) != 0;

    /// <summary>Decodes a protocol string, replacing invalid UTF-8 rather than failing.</summary>
    public static string DecodeString(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
