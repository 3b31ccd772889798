using System.Security.Cryptography.X509Certificates;

namespace VirtualDevices.Nbd.Server;

/// <summary>
/// A server's TLS credentials from a directory of PEM files laid out as nbdkit and qemu-nbd read them
/// (<c>--tls-certificates</c>, <c>tls-creds-x509</c>): <c>server-cert.pem</c> and <c>server-key.pem</c>, and
/// <c>ca-cert.pem</c> when client certificates are to be checked.
/// </summary>
public static class NbdServerCertificates
{
    /// <summary>The server's certificate, with its private key, from <c>server-cert.pem</c> and <c>server-key.pem</c>.</summary>
    /// <param name="directory">The directory.</param>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="System.Security.Cryptography.CryptographicException">A file is not a PEM certificate or key, or they do not match.</exception>
    public static X509Certificate2 LoadCertificate(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        return X509Certificate2.CreateFromPemFile(Path.Combine(directory, "server-cert.pem"), Path.Combine(directory, "server-key.pem"));
    }

    /// <summary>The authorities client certificates must chain to (<c>ca-cert.pem</c>), or null when the directory has none (clients are not asked for certificates).</summary>
    /// <param name="directory">The directory.</param>
    public static X509Certificate2Collection? LoadClientAuthorities(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string authority = Path.Combine(directory, "ca-cert.pem");
        if (!File.Exists(authority))
        {
            return null;
        }

        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(authority);
        return authorities;
    }
}
