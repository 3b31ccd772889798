using System.Collections.ObjectModel;
using System.Text;

namespace VirtualDevices.Xen.Xenstore;

/// <summary>
/// The permission list of a node, immutable. The first entry names the owner (who may do anything, including change
/// the permissions) and the access of every domain not listed; later entries give named domains their own access.
/// Written like xenstore-chmod: <c>n0 r1 b5</c> means "owned by dom0, no access for others, dom1 reads, dom5 reads and
/// writes". Dom0 is privileged and ignores permissions.
/// </summary>
public sealed class XenstorePermissions : IEquatable<XenstorePermissions>
{
    private readonly XenstorePermission[] _entries;

    /// <summary>The permissions of a fresh store's root: owned by dom0, no access for others.</summary>
    public static XenstorePermissions Default { get; } = new(0, XenstoreAccess.None);

    /// <summary>Creates a permission list.</summary>
    /// <param name="owner">The owner domain.</param>
    /// <param name="defaultAccess">The access of domains not named in <paramref name="entries"/>.</param>
    /// <param name="entries">Named domains and their access.</param>
    public XenstorePermissions(int owner, XenstoreAccess defaultAccess, params XenstorePermission[] entries)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(owner);
        _entries = new XenstorePermission[entries.Length + 1];
        _entries[0] = new XenstorePermission(owner, defaultAccess);
        entries.CopyTo(_entries, 1);
        Entries = new ReadOnlyCollection<XenstorePermission>(_entries);
    }

    private XenstorePermissions(XenstorePermission[] entries)
    {
        _entries = entries;
        Entries = new ReadOnlyCollection<XenstorePermission>(_entries);
    }

    /// <summary>The owner domain: the first entry's domain.</summary>
    public int Owner => _entries[0].DomainId;

    /// <summary>The access of every domain that is neither the owner nor named later: the first entry's access.</summary>
    public XenstoreAccess DefaultAccess => _entries[0].Access;

    /// <summary>All entries, the owner's first, in wire order.</summary>
    public IReadOnlyList<XenstorePermission> Entries { get; }

    /// <summary>What <paramref name="domainId"/> may do, ignoring privilege: everything for the owner, its own entry if
    /// it has one, otherwise the default.</summary>
    public XenstoreAccess AccessFor(int domainId)
    {
        if (domainId == _entries[0].DomainId)
        {
            return XenstoreAccess.Both;
        }

        for (int i = 1; i < _entries.Length; i++)
        {
            if (_entries[i].DomainId == domainId)
            {
                return _entries[i].Access;
            }
        }

        return _entries[0].Access;
    }

    /// <summary>The same list with another owner (the default access kept).</summary>
    public XenstorePermissions WithOwner(int owner)
    {
        if (owner == Owner)
        {
            return this;
        }

        var entries = (XenstorePermission[])_entries.Clone();
        entries[0] = entries[0] with { DomainId = owner };
        return new XenstorePermissions(entries);
    }

    /// <summary>Parses the xenstore-chmod form: entries separated by spaces or commas, such as <c>n0 r1 b5</c>.</summary>
    /// <exception cref="XenstoreException">EINVAL when an entry is not a permission or the list is empty.</exception>
    public static XenstorePermissions Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Parse(text.Split([' ', ',', '\t'], StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>Parses entries such as <c>n0</c>, <c>r1</c>, <c>b5</c>; the first names the owner.</summary>
    /// <exception cref="XenstoreException">EINVAL when an entry is not a permission or the list is empty.</exception>
    public static XenstorePermissions Parse(IEnumerable<string> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        XenstorePermission[] parsed = entries.Select(e => XenstorePermission.Parse(e)).ToArray();
        if (parsed.Length == 0)
        {
            throw new XenstoreException("EINVAL", "A xenstore permission list needs at least the owner's entry, such as n0.");
        }

        return new XenstorePermissions(parsed);
    }

    /// <summary>Parses the wire form: nul-terminated entries. False when any entry is malformed or there is none.</summary>
    internal static bool TryParseWire(ReadOnlySpan<byte> payload, out XenstorePermissions? permissions)
    {
        permissions = null;
        var list = new List<XenstorePermission>(4);
        Span<char> chars = stackalloc char[8];
        while (!payload.IsEmpty)
        {
            int end = payload.IndexOf((byte)0);
            ReadOnlySpan<byte> entry = end < 0 ? payload : payload[..end];
            payload = end < 0 ? default : payload[(end + 1)..];
            if (entry.IsEmpty)
            {
                continue;
            }

            if (entry.Length > chars.Length)
            {
                return false;
            }

            for (int i = 0; i < entry.Length; i++)
            {
                chars[i] = (char)entry[i];
            }

            if (!XenstorePermission.TryParse(chars[..entry.Length], out XenstorePermission permission))
            {
                return false;
            }

            list.Add(permission);
        }

        if (list.Count == 0)
        {
            return false;
        }

        permissions = new XenstorePermissions(list.ToArray());
        return true;
    }

    /// <summary>The number of bytes <see cref="WriteWire"/> writes.</summary>
    internal int WireLength
    {
        get
        {
            int length = 0;
            foreach (XenstorePermission entry in _entries)
            {
                length += 2 + CountDigits(entry.DomainId);
            }

            return length;
        }
    }

    /// <summary>Writes the wire form (each entry nul-terminated) and returns the bytes written.</summary>
    internal int WriteWire(Span<byte> destination)
    {
        int written = 0;
        foreach (XenstorePermission entry in _entries)
        {
            destination[written++] = (byte)XenstorePermission.LetterOf(entry.Access);
            entry.DomainId.TryFormat(destination[written..], out int digits, default, System.Globalization.CultureInfo.InvariantCulture);
            written += digits;
            destination[written++] = 0;
        }

        return written;
    }

    private static int CountDigits(int value)
    {
        int digits = 1;
        while (value >= 10)
        {
            value /= 10;
            digits++;
        }

        return digits;
    }

    /// <summary>The xenstore-chmod form, entries separated by spaces: <c>n0 r1 b5</c>.</summary>
    public override string ToString()
    {
        var builder = new StringBuilder();
        foreach (XenstorePermission entry in _entries)
        {
            if (builder.Length > 0)
            {
                builder.Append(' ');
            }

            builder.Append(entry.ToString());
        }

        return builder.ToString();
    }

    /// <inheritdoc/>
    public bool Equals(XenstorePermissions? other) => other is not null && _entries.AsSpan().SequenceEqual(other._entries);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as XenstorePermissions);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (XenstorePermission entry in _entries)
        {
            hash.Add(entry);
        }

        return hash.ToHashCode();
    }
}
