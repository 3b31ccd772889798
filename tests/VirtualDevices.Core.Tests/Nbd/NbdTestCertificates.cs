using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Nbd;

/// <summary>
/// A throw-away X.509 authority with a server certificate (CN=localhost, SAN localhost and 127.0.0.1) and a client
/// certificate, made with openssl in the layout nbdkit, qemu and libnbd read: ca-cert.pem, server-cert.pem,
/// server-key.pem, client-cert.pem, client-key.pem.
/// </summary>
internal static class NbdTestCertificates
{
    public static async Task<string> CreateAsync(TempDirectory dir)
    {
        string pki = Path.Combine(dir.Path, "pki");
        Directory.CreateDirectory(pki);
        string P(string name) => Path.Combine(pki, name);
        await RunAsync("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", P("ca-key.pem"), "-out", P("ca-cert.pem"), "-days", "2",
            "-subj", "/CN=VirtualDevices test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        await IssueAsync(pki, "server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n");
        await IssueAsync(pki, "client", "/CN=client", "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n");
        return pki;
    }

    private static async Task IssueAsync(string pki, string name, string subject, string extensions)
    {
        string P(string file) => Path.Combine(pki, file);
        await File.WriteAllTextAsync(P(name + ".ext"), extensions);
        await RunAsync("req", "-newkey", "rsa:2048", "-nodes", "-keyout", P(name + "-key.pem"), "-out", P(name + ".csr"), "-subj", subject);
        await RunAsync("x509", "-req", "-in", P(name + ".csr"), "-CA", P("ca-cert.pem"), "-CAkey", P("ca-key.pem"), "-CAcreateserial",
            "-out", P(name + "-cert.pem"), "-days", "2", "-extfile", P(name + ".ext"));
    }

    private static async Task RunAsync(params string[] arguments) =>
        (await ExternalProcess.RunAsync("openssl", arguments, TimeSpan.FromSeconds(60))).EnsureSuccess("openssl " + arguments[0]);
}
