using System.Globalization;
using System.Text;

namespace VirtualDevices.Nbd.Client;

/// <summary>
/// Parses and formats NBD URIs (the NBD project's <c>doc/uri.md</c>): schemes <c>nbd</c>, <c>nbds</c>,
/// <c>nbd+unix</c> and <c>nbds+unix</c>; the path (less its first <c>/</c>, percent-decoded) is the export name.
/// </summary>
/// <remarks>
/// Query parameters understood: <c>socket</c> (unix schemes, required), <c>tls-certificates</c> (a directory as
/// nbdkit and libnbd lay it out), <c>tls-verify-peer</c> (<c>0</c> or <c>1</c>), <c>tls-hostname</c>,
/// <c>tls-type</c> (only <c>x509</c>), and the experimental <c>x-connections</c> (multi-conn count). Any other
/// parameter is rejected, as the URI document asks, so a misspelling is not silently ignored.
/// </remarks>
public static class NbdUri
{
    /// <summary>Turns a URI into client options.</summary>
    /// <param name="uri">An NBD URI.</param>
    /// <exception cref="FormatException">Not a valid NBD URI.</exception>
    public static NbdClientOptions Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        int colon = uri.IndexOf("://", StringComparison.Ordinal);
        if (colon <= 0)
        {
            throw new FormatException($"'{uri}' is not an NBD URI (expected nbd://, nbds://, nbd+unix:// or nbds+unix://).");
        }

        string scheme = uri[..colon].ToLowerInvariant();
        (bool tls, bool unix) = scheme switch
        {
            "nbd" => (false, false),
            "nbds" => (true, false),
            "nbd+unix" => (false, true),
            "nbds+unix" => (true, true),
            _ => throw new FormatException($"'{scheme}' is not an NBD URI scheme."),
        };

        string rest = uri[(colon + 3)..];
        int fragment = rest.IndexOf('#', StringComparison.Ordinal);
        if (fragment >= 0)
        {
            rest = rest[..fragment];
        }

        string query = "";
        int question = rest.IndexOf('?', StringComparison.Ordinal);
        if (question >= 0)
        {
            query = rest[(question + 1)..];
            rest = rest[..question];
        }

        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        string authority = slash >= 0 ? rest[..slash] : rest;
        string path = slash >= 0 ? rest[(slash + 1)..] : "";
        var options = new NbdClientOptions
        {
            ExportName = Decode(path),
            Tls = tls ? NbdTlsMode.Require : NbdTlsMode.Off,
        };

        int at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            authority = authority[(at + 1)..]; // userinfo is only for TLS methods not supported here
        }

        if (!unix)
        {
            (string host, int port) = ParseAuthority(authority, uri);
            options = options with { Host = host.Length == 0 ? "localhost" : host, Port = port };
        }

        foreach (string pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            string key = Decode(equals >= 0 ? pair[..equals] : pair);
            string value = equals >= 0 ? Decode(pair[(equals + 1)..]) : "";
            options = key switch
            {
                "socket" when unix => options with { SocketPath = value },
                "socket" => throw new FormatException("The socket parameter is only for nbd+unix and nbds+unix URIs."),
                "tls-certificates" => options with { TlsCertificatesDirectory = value },
                "tls-verify-peer" => options with { TlsVerifyPeer = ParseBool(key, value) },
                "tls-hostname" => options with { TlsHostname = value },
                "tls-type" when value.Equals("x509", StringComparison.OrdinalIgnoreCase) => options,
                "tls-type" => throw new FormatException($"TLS type '{value}' is not supported (only x509)."),
                "x-connections" => options with { Connections = ParseInt(key, value) },
                _ => throw new FormatException($"Unknown NBD URI parameter '{key}'."),
            };
        }

        if (unix && string.IsNullOrEmpty(options.SocketPath))
        {
            throw new FormatException($"'{uri}' needs a socket parameter (?socket=PATH).");
        }

        return options;
    }

    /// <summary>Formats options as a URI (the inverse of <see cref="Parse"/> for what a URI can express).</summary>
    /// <param name="options">The options.</param>
    public static string Format(NbdClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        bool tls = options.Tls == NbdTlsMode.Require;
        bool unix = !string.IsNullOrEmpty(options.SocketPath);
        var text = new StringBuilder();
        text.Append(tls ? "nbds" : "nbd").Append(unix ? "+unix://" : "://");
        if (!unix)
        {
            string host = options.Host ?? "localhost";
            text.Append(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host);
            if (options.Port != NbdClientOptions.DefaultPort)
            {
                text.Append(':').Append(options.Port.ToString(CultureInfo.InvariantCulture));
            }
        }

        text.Append('/').Append(Encode(options.ExportName, path: true));
        var query = new List<string>();
        if (unix)
        {
            query.Add("socket=" + Encode(options.SocketPath!, path: false));
        }

        if (options.TlsCertificatesDirectory is not null)
        {
            query.Add("tls-certificates=" + Encode(options.TlsCertificatesDirectory, path: false));
        }

        if (!options.TlsVerifyPeer)
        {
            query.Add("tls-verify-peer=0");
        }

        if (options.TlsHostname is not null)
        {
            query.Add("tls-hostname=" + Encode(options.TlsHostname, path: false));
        }

        if (options.Connections != 1)
        {
            query.Add("x-connections=" + options.Connections.ToString(CultureInfo.InvariantCulture));
        }

        if (query.Count > 0)
        {
            text.Append('?').Append(string.Join('&', query));
        }

        return text.ToString();
    }

    private static (string Host, int Port) ParseAuthority(string authority, string uri)
    {
        string host = authority;
        string? port = null;
        if (authority.StartsWith('['))
        {
            int close = authority.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException($"'{uri}': unterminated IPv6 address.");
            }

            host = authority[1..close];
            if (close + 1 < authority.Length)
            {
                if (authority[close + 1] != ':')
                {
                    throw new FormatException($"'{uri}': unexpected text after the IPv6 address.");
                }

                port = authority[(close + 2)..];
            }
        }
        else
        {
            int colon = authority.LastIndexOf(':');
            if (colon >= 0)
            {
                host = authority[..colon];
                port = authority[(colon + 1)..];
            }
        }

        int number = NbdClientOptions.DefaultPort;
        if (!string.IsNullOrEmpty(port) && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out number) || number is <= 0 or > 65535))
        {
            throw new FormatException($"'{uri}': '{port}' is not a port number.");
        }

        return (Decode(host), number);
    }

    private static bool ParseBool(string key, string value) => value switch
    {
        "1" or "true" or "on" or "yes" => true,
        "0" or "false" or "off" or "no" => false,
        _ => throw new FormatException($"Parameter '{key}' must be 0 or 1, not '{value}'."),
    };

    private static int ParseInt(string key, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int number)
            ? number
            : throw new FormatException($"Parameter '{key}' must be a number, not '{value}'.");

    private static string Decode(string text)
    {
        // Percent-decoding to bytes first keeps multi-byte UTF-8 (and %00 for abstract sockets) intact.
        if (!text.Contains('%', StringComparison.Ordinal))
        {
            return text;
        }

        var bytes = new List<byte>(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '%')
            {
                if (i + 2 >= text.Length || !byte.TryParse(text.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out byte b))
                {
                    throw new FormatException($"Bad percent-encoding in '{text}'.");
                }

                bytes.Add(b);
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(text[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static string Encode(string text, bool path)
    {
        var result = new StringBuilder();
        foreach (byte b in Encoding.UTF8.GetBytes(text))
        {
            char c = (char)b;
            bool plain = char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~' || c == '/' || (!path && c is ':' or '@');
            result.Append(plain && b < 128 ? c.ToString() : "%" + b.ToString("X2", CultureInfo.InvariantCulture));
        }

        return result.ToString();
    }
}
