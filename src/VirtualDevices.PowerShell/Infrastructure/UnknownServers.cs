using System.Runtime.CompilerServices;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// What the server transformations bind for a name that no server of the session has: a placeholder server, never
/// started, remembered with the name. Throwing from the transformation would make an unknown name a terminating
/// ParameterArgumentTransformationError that -ErrorAction cannot silence; the command instead meets the placeholder
/// and writes a non-terminating NbdServerNotFound or XenstoreServerNotFound error (<see cref="Report"/>). The server
/// types are sealed, so a placeholder of their own type (listening nowhere) stands in for the name.
/// </summary>
internal static class UnknownServers
{
    private static readonly ConditionalWeakTable<object, string> s_names = new();

    /// <summary>A placeholder NBD server for <paramref name="name"/>.</summary>
    /// <param name="name">The name that matched no server.</param>
    public static NbdServer Nbd(string name)
    {
        // Never started: constructing it opens no socket (the path is only where it would listen).
        var server = new NbdServer(new NbdServerOptions { UnixSocketPath = "/nonexistent/" + name });
        s_names.AddOrUpdate(server, name);
        return server;
    }

    /// <summary>A placeholder xenstore server for <paramref name="name"/>.</summary>
    /// <param name="name">The name that matched no server.</param>
    public static XenstoreServer Xenstore(string name)
    {
        var server = new XenstoreServer();
        s_names.AddOrUpdate(server, name);
        return server;
    }

    /// <summary>A placeholder loopback hypervisor for <paramref name="name"/>.</summary>
    /// <param name="name">The name that matched no hypervisor.</param>
    public static Xen.Loopback.LoopbackHypervisor XenLoopback(string name)
    {
        // In-process only: starting it makes no socket and no thread, and it holds nothing to release.
        var hypervisor = Xen.Loopback.LoopbackHypervisor.Start();
        s_names.AddOrUpdate(hypervisor, name);
        return hypervisor;
    }

    /// <summary>Writes the not-found error when <paramref name="server"/> is a placeholder.</summary>
    /// <param name="cmdlet">The command, on its pipeline thread.</param>
    /// <param name="server">A server as bound.</param>
    /// <returns>True when the error was written (skip the server).</returns>
    public static bool Report(Cmdlet cmdlet, object server)
    {
        if (!s_names.TryGetValue(server, out string? name))
        {
            return false;
        }

        (string id, string list, string kind) = server switch
        {
            NbdServer => (DeviceErrorIds.Nbd.ServerNotFound, "Get-NbdServer", "NBD server"),
            Xen.Loopback.LoopbackHypervisor => (DeviceErrorIds.XenLoopback.HypervisorNotFound, "Get-XenLoopbackHypervisor", "loopback hypervisor"),
            _ => (DeviceErrorIds.Xenstore.ServerNotFound, "Get-XenstoreServer", "xenstore server"),
        };
        var error = new DeviceException(id, DeviceErrorCategory.ObjectNotFound, $"No {kind} named '{name}' runs in this session. {list} lists them.", name);
        cmdlet.WriteError(ErrorRecords.FromException(error, name));
        return true;
    }
}
