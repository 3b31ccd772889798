namespace VirtualDevices.Xen.Grants;

/// <summary>
/// Bytes in and out of granted or mapped pages by copy, checked: the array forms of <see cref="IGrantedPages"/> and
/// <see cref="IMappedGrants"/> for callers that cannot hold a span (PowerShell scripts).
/// </summary>
internal static class GrantBytes
{
    /// <summary>Copies <paramref name="count"/> bytes from <paramref name="offset"/> of <paramref name="pages"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not within the pages.</exception>
    public static byte[] Read(Memory<byte> pages, int offset, int count)
    {
        CheckRange(pages.Length, offset, count, nameof(count));
        return pages.Span.Slice(offset, count).ToArray();
    }

    /// <summary>Copies <paramref name="data"/> into <paramref name="pages"/> from <paramref name="offset"/>.</summary>
    /// <exception cref="InvalidOperationException">The pages are mapped read-only here (a write would fault the process).</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is not within the pages.</exception>
    public static void Write(Memory<byte> pages, GrantAccess access, int offset, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (access != GrantAccess.ReadWrite)
        {
            throw new InvalidOperationException("These pages are mapped read-only: they cannot be written here.");
        }

        CheckRange(pages.Length, offset, data.Length, nameof(data));
        data.CopyTo(pages.Span[offset..]);
    }

    private static void CheckRange(int length, int offset, int count, string countName)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(count, countName);
        if ((long)offset + count > length)
        {
            throw new ArgumentOutOfRangeException(countName, count, $"{count} bytes from offset {offset} run past the {length} bytes of the pages.");
        }
    }
}
