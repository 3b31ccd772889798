using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>Reads the arguments of a request: nul-terminated strings, paths made absolute, domain ids.</summary>
internal static class RequestPayload
{
    /// <summary>Takes the next nul-terminated string; false if there is no terminator.</summary>
    internal static bool TakeString(ref ReadOnlySpan<byte> payload, out ReadOnlySpan<byte> value)
    {
        int end = payload.IndexOf((byte)0);
        if (end < 0)
        {
            value = default;
            return false;
        }

        value = payload[..end];
        payload = payload[(end + 1)..];
        return true;
    }

    /// <summary>Takes a path argument and makes it absolute (relative paths live under the caller's domain path).</summary>
    internal static bool TakePath(ServerConnection connection, ref ReadOnlySpan<byte> payload, out ReadOnlySpan<byte> absolute)
    {
        absolute = default;
        return TakeString(ref payload, out ReadOnlySpan<byte> path) && TryResolve(connection, path, out absolute);
    }

    internal static bool TryResolve(ServerConnection connection, ReadOnlySpan<byte> path, out ReadOnlySpan<byte> absolute)
    {
        absolute = default;
        if (!XenstorePath.IsValid(path))
        {
            return false;
        }

        if (path[0] == (byte)'/')
        {
            absolute = path;
            return true;
        }

        byte[] prefix = connection.DomainPrefix;
        int length = prefix.Length + path.Length;
        if (length > XenstoreLimits.AbsolutePathMax)
        {
            return false;
        }

        byte[] scratch = connection.PathScratch;
        prefix.CopyTo(scratch, 0);
        path.CopyTo(scratch.AsSpan(prefix.Length));
        absolute = scratch.AsSpan(0, length);
        return true;
    }

    /// <summary>Takes a nul-terminated domain id (decimal, 0 to 65535) off the front of a payload.</summary>
    internal static bool TakeDomain(ref ReadOnlySpan<byte> payload, out int domainId)
    {
        domainId = 0;
        return TakeString(ref payload, out ReadOnlySpan<byte> text) && TryParseDomain(text, out domainId);
    }

    internal static bool TryParseDomain(ReadOnlySpan<byte> text, out int domainId)
    {
        domainId = 0;
        if (!ServerConnection.TryParseNumber(text, out ulong value) || value > 0xFFFF)
        {
            return false;
        }

        domainId = (int)value;
        return true;
    }
}
