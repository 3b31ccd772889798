using System.Globalization;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore;

/// <summary>
/// Xenstore path rules (docs/misc/xenstore.txt): ASCII letters, digits and <c>-/_@</c>; absolute paths start with
/// <c>/</c>, relative ones resolve under the connection's domain path; no empty, doubled or trailing <c>/</c> except the
/// root itself; at most <see cref="XenstoreLimits.AbsolutePathMax"/> bytes absolute and
/// <see cref="XenstoreLimits.RelativePathMax"/> relative. Watches may also name special paths such as
/// <c>@introduceDomain</c>.
/// </summary>
public static class XenstorePath
{
    /// <summary>The special watch path fired when a domain is introduced.</summary>
    public const string IntroduceDomain = "@introduceDomain";

    /// <summary>The special watch path fired when a domain is released or dies.</summary>
    public const string ReleaseDomain = "@releaseDomain";

    /// <summary>The path of a domain's home, under which its relative paths resolve: <c>/local/domain/&lt;id&gt;</c>.</summary>
    public static string DomainPath(int domainId) => "/local/domain/" + domainId.ToString(CultureInfo.InvariantCulture);

    /// <summary>Joins a parent path and a child name.</summary>
    public static string Combine(string parent, string child) =>
        parent.Length == 0 ? child : parent == "/" ? "/" + child : parent + "/" + child;

    /// <summary>The parent of a path (<c>/</c> for top-level nodes), or null for the root and single relative names.</summary>
    public static string? GetParent(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash switch
        {
            < 0 => null,
            0 => path.Length == 1 ? null : "/",
            _ => path[..slash],
        };
    }

    /// <summary>The last component of a path.</summary>
    public static string GetName(string path) => path[(path.LastIndexOf('/') + 1)..];

    /// <summary>True if <paramref name="path"/> is a valid node path (and, with <paramref name="allowSpecial"/>, a special
    /// watch path).</summary>
    public static bool IsValid(string path, bool allowSpecial = false) => Check(path, allowSpecial) is null;

    /// <summary>Throws unless <paramref name="path"/> is valid.</summary>
    /// <exception cref="XenstoreException">EINVAL for a malformed path, E2BIG for one over the length limit.</exception>
    public static void Validate(string path, bool allowSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        string? error = Check(path, allowSpecial);
        if (error is not null)
        {
            throw new XenstoreException(error.StartsWith("too long", StringComparison.Ordinal) ? "E2BIG" : "EINVAL",
                $"'{(path.Length > 80 ? path[..80] + "..." : path)}' is not a valid xenstore path: {error}.", path);
        }
    }

    private static string? Check(string path, bool allowSpecial)
    {
        if (path.Length == 0)
        {
            return "empty";
        }

        bool absolute = path[0] == '/';
        int max = absolute ? XenstoreLimits.AbsolutePathMax : XenstoreLimits.RelativePathMax;
        if (path.Length > max)
        {
            return $"too long ({path.Length} bytes, at most {max})";
        }

        if (allowSpecial && path[0] == '@')
        {
            return null;
        }

        for (int i = 0; i < path.Length; i++)
        {
            char c = path[i];
            if (!IsPathChar(c))
            {
                return $"character '{c}' is not allowed (letters, digits and -/_@ only)";
            }

            if (c == '/' && i > 0 && path[i - 1] == '/')
            {
                return "doubled '/'";
            }
        }

        if (path.Length > 1 && path[^1] == '/')
        {
            return "trailing '/'";
        }

        return null;
    }

    /// <summary>The server's check on raw bytes: same rules, relative or absolute.</summary>
    internal static bool IsValid(ReadOnlySpan<byte> path)
    {
        if (path.IsEmpty)
        {
            return false;
        }

        bool absolute = path[0] == (byte)'/';
        if (path.Length > (absolute ? XenstoreLimits.AbsolutePathMax : XenstoreLimits.RelativePathMax))
        {
            return false;
        }

        byte previous = 0;
        foreach (byte c in path)
        {
            if (!IsPathChar((char)c) || (c == (byte)'/' && previous == (byte)'/'))
            {
                return false;
            }

            previous = c;
        }

        return path.Length == 1 || path[^1] != (byte)'/';
    }

    private static bool IsPathChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '/' or '_' or '@';
}
