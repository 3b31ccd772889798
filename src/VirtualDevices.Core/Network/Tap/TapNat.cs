using System.Diagnostics;
using System.Net;

namespace VirtualDevices.Network.Tap;

/// <summary>
/// Shared mode's NAT on Linux, made only when asked and removed at stop: an nftables table of its own
/// (<c>ip virtualdevices_IFNAME</c>) that masquerades the link's subnet on its way out of any other interface, and IPv4
/// forwarding turned on (<c>net.ipv4.ip_forward</c>) if it was off, turned off again when the last shared interface of
/// this process in that namespace stops. Nothing else of the host's firewall is read or changed. Runs in the
/// interface's namespace (the caller's thread is in it).
/// </summary>
internal sealed class TapNat
{
    private const string ForwardingPath = "/proc/sys/net/ipv4/ip_forward";
    private static readonly Dictionary<string, int> ForwardingUsers = new(StringComparer.Ordinal);
    private static readonly object ForwardingLock = new();

    private readonly string _namespaceKey;
    private readonly string? _namespace;

    private TapNat(string table, string namespaceKey, string? @namespace)
    {
        Table = table;
        _namespaceKey = namespaceKey;
        _namespace = @namespace;
    }

    /// <summary>The nftables table (family ip).</summary>
    public string Table { get; }

    /// <summary>The table's name for an interface.</summary>
    public static string TableFor(string interfaceName) =>
        "virtualdevices_" + new string(interfaceName.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray());

    /// <summary>The nftables ruleset added for an interface and its subnet.</summary>
    public static string Ruleset(string interfaceName, IPAddress hostAddress, int prefixLength)
    {
        uint mask = prefixLength == 32 ? uint.MaxValue : ~(uint.MaxValue >> prefixLength);
        uint host = (uint)IPAddress.NetworkToHostOrder(BitConverter.ToInt32(hostAddress.GetAddressBytes()));
        var network = new IPAddress(BitConverter.GetBytes(IPAddress.HostToNetworkOrder((int)(host & mask))));
        string table = TableFor(interfaceName);
        return $$"""
            table ip {{table}} {
              chain postrouting {
                type nat hook postrouting priority srcnat; policy accept;
                ip saddr {{network}}/{{prefixLength}} oifname != "{{interfaceName}}" masquerade
              }
              chain forward {
                type filter hook forward priority filter; policy accept;
                iifname "{{interfaceName}}" accept
                oifname "{{interfaceName}}" ct state established,related accept
              }
            }
            """;
    }

    /// <summary>Adds the table and turns forwarding on; in the calling thread's namespace.</summary>
    /// <param name="interfaceName">The TAP.</param>
    /// <param name="hostAddress">The host's address on the link.</param>
    /// <param name="prefixLength">Its prefix.</param>
    /// <param name="namespace">The namespace's name, or null (the key of forwarding's users).</param>
    /// <exception cref="DeviceException"><see cref="DeviceErrorIds.Network.NatFailed"/>.</exception>
    public static TapNat Apply(string interfaceName, IPAddress hostAddress, int prefixLength, string? @namespace)
    {
        string table = TableFor(interfaceName);
        Nft(interfaceName, ["-f", "-"], Ruleset(interfaceName, hostAddress, prefixLength));
        string key = @namespace is null ? string.Empty : NetworkNamespace.PathOf(@namespace);
        try
        {
            lock (ForwardingLock)
            {
                ForwardingUsers.TryGetValue(key, out int users);
                if (users == 0 && File.ReadAllText(ForwardingPath).Trim() == "1")
                {
                    users = 1; // on before us: the count keeps it on when we leave
                }

                File.WriteAllText(ForwardingPath, "1");
                ForwardingUsers[key] = users + 1;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryNft(["delete", "table", "ip", table]);
            throw new DeviceException(DeviceErrorIds.Network.NatFailed, DeviceErrorCategory.PermissionDenied,
                $"Shared mode: IPv4 forwarding ({ForwardingPath}) cannot be turned on: {e.Message}", interfaceName, e);
        }

        return new TapNat(table, key, @namespace);
    }

    /// <summary>Removes the table, and turns forwarding off when it was off before the first shared interface.</summary>
    public void Remove()
    {
        NetworkNamespace.Run(_namespace, () =>
        {
            TryNft(["delete", "table", "ip", Table]);
            lock (ForwardingLock)
            {
                if (ForwardingUsers.TryGetValue(_namespaceKey, out int users))
                {
                    if (users <= 1)
                    {
                        ForwardingUsers.Remove(_namespaceKey);
                        try
                        {
                            File.WriteAllText(ForwardingPath, "0");
                        }
                        catch (IOException)
                        {
                            // The namespace is going away: nothing left to restore.
                        }
                    }
                    else
                    {
                        ForwardingUsers[_namespaceKey] = users - 1;
                    }
                }
            }

            return 0;
        });
    }

    private static void Nft(string interfaceName, string[] arguments, string input)
    {
        (int exit, string error) = RunNft(arguments, input);
        if (exit != 0)
        {
            throw new DeviceException(DeviceErrorIds.Network.NatFailed, exit == 127 ? DeviceErrorCategory.NotImplemented : DeviceErrorCategory.NotSpecified,
                exit == 127
                    ? $"Shared mode needs nftables' nft program, which is not installed (apt-get install nftables)."
                    : $"Shared mode: nft refused the NAT table for '{interfaceName}' (exit {exit}): {error.Trim()}", interfaceName);
        }
    }

    private static void TryNft(string[] arguments) => RunNft(arguments, null);

    private static (int Exit, string Error) RunNft(string[] arguments, string? input)
    {
        var start = new ProcessStartInfo("nft")
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            // Started from this thread, which is in the interface's namespace: the child inherits it.
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (127, "nft not found");
        }

        using (process)
        {
            if (input is not null)
            {
                process.StandardInput.Write(input);
            }

            process.StandardInput.Close();
            Task<string> error = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(30_000))
            {
                process.Kill();
                return (-1, "nft did not finish within 30 s");
            }

            return (process.ExitCode, error.GetAwaiter().GetResult());
        }
    }
}
