using System.Globalization;
using System.Text;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>
/// What to send, checked but not yet written: <c>path|tail</c> (tail a value, permissions, or nothing), or a list of
/// nul-terminated strings. The request engine writes it straight into the buffer of the request that carries it.
/// </summary>
internal readonly ref struct OutgoingMessage
{
    internal OutgoingMessage(XenstoreMessageType type, uint transaction, string? path, ReadOnlySpan<byte> tail, string[]? strings, int payloadLength)
    {
        Type = type;
        Transaction = transaction;
        Path = path;
        Tail = tail;
        Strings = strings;
        PayloadLength = payloadLength;
    }

    internal XenstoreMessageType Type { get; }

    internal uint Transaction { get; }

    internal string? Path { get; }

    internal ReadOnlySpan<byte> Tail { get; }

    internal string[]? Strings { get; }

    internal int PayloadLength { get; }

    /// <summary>Writes the header (request id 0 until sent) and payload; returns the message length.</summary>
    internal int WriteTo(Span<byte> destination)
    {
        new XenstoreMessageHeader(Type, 0, Transaction, (uint)PayloadLength).Write(destination);
        int position = XenstoreLimits.HeaderSize;
        if (Strings is null)
        {
            // A validated path is ASCII.
            position += Encoding.ASCII.GetBytes(Path!, destination[position..]);
            destination[position++] = 0;
            Tail.CopyTo(destination[position..]);
            return position + Tail.Length;
        }

        foreach (string s in Strings)
        {
            position += Encoding.UTF8.GetBytes(s, destination[position..]);
            destination[position++] = 0;
        }

        return position;
    }

    /// <summary><c>path|</c> followed by <paramref name="tail"/> (a value, permissions, or nothing).</summary>
    internal static OutgoingMessage Build(XenstoreMessageType type, uint transaction, string path, ReadOnlySpan<byte> tail = default)
    {
        XenstorePath.Validate(path);
        int payload = path.Length + 1 + tail.Length;
        if (payload > XenstoreLimits.PayloadMax)
        {
            throw TooBig(type, path, payload);
        }

        return new OutgoingMessage(type, transaction, path, tail, null, payload);
    }

    internal static OutgoingMessage BuildDirectoryPart(uint transaction, string path, long offset)
    {
        XenstorePath.Validate(path);
        return BuildStrings(XenstoreMessageType.DirectoryPart, transaction, path, offset.ToString(CultureInfo.InvariantCulture));
    }

    internal static OutgoingMessage BuildWatch(XenstoreMessageType type, XenstoreWatch watch)
    {
        XenstorePath.Validate(watch.Path, allowSpecial: true);
        return BuildStrings(type, 0, watch.Path, watch.Token);
    }

    /// <summary>Nul-terminated strings (the argument lists of the domain and control requests).</summary>
    internal static OutgoingMessage BuildStrings(XenstoreMessageType type, uint transaction, params string[] strings)
    {
        int payload = 0;
        foreach (string s in strings)
        {
            payload += Encoding.UTF8.GetByteCount(s) + 1;
        }

        if (payload > XenstoreLimits.PayloadMax)
        {
            throw TooBig(type, null, payload);
        }

        return new OutgoingMessage(type, transaction, null, default, strings, payload);
    }

    /// <summary>The refusal of a request whose payload exceeds <paramref name="limit"/> (4,096, or 4,080 through a xenbus device).</summary>
    internal static XenstoreException TooBig(XenstoreMessageType type, string? path, int payload, int limit = XenstoreLimits.PayloadMax) =>
        new("E2BIG", $"xenstore {type} request of {payload} bytes exceeds the {limit}-byte payload limit" +
            (limit < XenstoreLimits.PayloadMax ? " of the xenbus device (4,096 bytes with the 16-byte header)" : "") +
            "; the daemon would drop the connection (the device refuses the write), so it was not sent.", path);
}
