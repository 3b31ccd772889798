using System.Globalization;

namespace VirtualDevices.Xen.Xenstore;

/// <summary>One entry of a node's permission list: a domain and its access, written <c>r1</c>, <c>b5</c>, <c>n0</c>.</summary>
/// <param name="DomainId">The domain the entry is about.</param>
/// <param name="Access">What that domain may do.</param>
public readonly record struct XenstorePermission(int DomainId, XenstoreAccess Access)
{
    /// <summary>The letter of an access: n, r, w or b.</summary>
    public static char LetterOf(XenstoreAccess access) => access switch
    {
        XenstoreAccess.Read => 'r',
        XenstoreAccess.Write => 'w',
        XenstoreAccess.Both => 'b',
        _ => 'n',
    };

    /// <summary>Parses <c>r1</c>, <c>b5</c>, <c>n0</c>, <c>w3</c>.</summary>
    /// <exception cref="XenstoreException">EINVAL when the text is not a permission.</exception>
    public static XenstorePermission Parse(ReadOnlySpan<char> text)
    {
        if (!TryParse(text, out XenstorePermission permission))
        {
            throw new XenstoreException("EINVAL", $"'{text}' is not a xenstore permission (expected n, r, w or b followed by a domain id, such as r1).");
        }

        return permission;
    }

    /// <summary>Parses <c>r1</c>, <c>b5</c>, <c>n0</c>, <c>w3</c>; false when the text is not a permission.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out XenstorePermission permission)
    {
        permission = default;
        if (text.Length < 2)
        {
            return false;
        }

        XenstoreAccess access;
        switch (text[0])
        {
            case 'n': access = XenstoreAccess.None; break;
            case 'r': access = XenstoreAccess.Read; break;
            case 'w': access = XenstoreAccess.Write; break;
            case 'b': access = XenstoreAccess.Both; break;
            default: return false;
        }

        if (!int.TryParse(text[1..], NumberStyles.None, CultureInfo.InvariantCulture, out int domainId) || domainId > 0xFFFF)
        {
            return false;
        }

        permission = new XenstorePermission(domainId, access);
        return true;
    }

    /// <summary>The xenstore-chmod form: <c>r1</c>.</summary>
    public override string ToString() => LetterOf(Access) + DomainId.ToString(CultureInfo.InvariantCulture);
}
