using System.Text;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>The fixed reply payloads, encoded once.</summary>
internal static class ServerReplies
{
    internal static readonly byte[] Ok = "OK\0"u8.ToArray();
    internal static readonly byte[] True = "T\0"u8.ToArray();
    internal static readonly byte[] False = "F\0"u8.ToArray();

    /// <summary>The error names the protocol carries, nul-terminated, by <see cref="ServerError"/>.</summary>
    private static readonly byte[][] ErrorNames =
    [
        [], .. Enum.GetNames<ServerError>().Skip(1).Select(name => Encoding.ASCII.GetBytes(name + "\0")),
    ];

    internal static byte[] ErrorName(ServerError error) => ErrorNames[(int)error];
}
