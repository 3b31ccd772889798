using System.Security.Cryptography.X509Certificates;

namespace VirtualDevices.Nbd.Protocol;

/// <summary>
/// The one trust rule of both NBD roles: a peer's certificate is trusted when it chains to the authorities the user
/// gave (nbdkit's and qemu's ca-cert.pem), not to the system store, which knows neither a test nor a site authority.
/// </summary>
internal static class NbdTlsTrust
{
    /// <summary>True when <paramref name="certificate"/> chains to one of <paramref name="authorities"/> (revocation is not checked: self-run authorities publish no lists).</summary>
    public static bool ChainsToAuthorities(X509Certificate certificate, X509Certificate2Collection authorities)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }
}
