using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.XenLab.Checks;

/// <summary>
/// Xenstore between dom0 and a real guest domain: a PV domain made by `xl create -p` (paused: it never runs, but it
/// exists in the hypervisor, libxl wrote its home and xenstored introduced it), seen through our client. What is
/// checked is dom0's side: @introduceDomain / @releaseDomain, IS_DOMAIN_INTRODUCED, GET_DOMAIN_PATH, the permissions
/// libxl gave the guest's home (compared with libxenstore's view), permissions naming the guest set and read back,
/// and inheritance of the owner by new nodes. What the guest itself may read or write is not checked here: that
/// needs a client running inside the guest.
/// </summary>
internal sealed class GuestDomainChecks(CheckRunner runner, Func<XenstoreClient> connect)
{
    private const string Config = "/tmp/lab-perm-guest.cfg";
    private const string Name = "lab-perm-guest";

    public async Task RunAsync()
    {
        if (!File.Exists("/opt/lab/guest/vmlinuz"))
        {
            CheckRunner.Emit("xenstore.guest.create", "skip", "no guest kernel at /opt/lab/guest (not in the lab?)");
            return;
        }

        await File.WriteAllTextAsync(Config, $"""
            name = "{Name}"
            type = "pv"
            kernel = "/opt/lab/guest/vmlinuz"
            ramdisk = "/opt/lab/guest/initrd.gz"
            memory = 128
            vcpus = 1
            """);
        await using XenstoreClient xs = connect();
        int domid = -1;
        await runner.RunAsync("xenstore.guest.introduce-watch", async ct =>
        {
            await using XenstoreWatch introduced = await xs.WatchAsync(XenstorePath.IntroduceDomain, ct);
            await introduced.ReadAsync(ct); // registration
            await ExternalTool.RunAsync("xl", ct, "create", "-p", Config);
            domid = int.Parse((await ExternalTool.RunAsync("xl", ct, "domid", Name)).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            XenstoreWatchEvent e = await introduced.ReadAsync(ct);
            Expect.Equal(XenstorePath.IntroduceDomain, e.Path, "event path");
            return $"xl create -p made domain {domid}; @introduceDomain fired";
        }, TimeSpan.FromSeconds(120));
        if (domid < 0)
        {
            return;
        }

        string home = XenstorePath.DomainPath(domid);
        await runner.RunAsync("xenstore.guest.domain-queries", async ct =>
        {
            Expect.Equal(true, await xs.IsDomainIntroducedAsync(domid, ct), "IS_DOMAIN_INTRODUCED");
            Expect.Equal(home, await xs.GetDomainPathAsync(domid, ct), "GET_DOMAIN_PATH");
            Expect.Equal(Name, await xs.ReadStringAsync(home + "/name", ct), "name libxl wrote");
            return $"domain {domid} introduced, home {home}";
        });

        await runner.RunAsync("xenstore.guest.home-permissions", async ct =>
        {
            // libxl: the home is the toolstack's and readable by the guest; home/data is the guest's own.
            XenstorePermissions homePerms = await xs.GetPermissionsAsync(home, ct);
            XenstorePermissions dataPerms = await xs.GetPermissionsAsync(home + "/data", ct);
            Expect.Equal(XenstoreAccess.Read, homePerms.AccessFor(domid), $"guest's access to its home ({homePerms})");
            Expect.Equal(domid, dataPerms.Owner, $"owner of home/data ({dataPerms})");
            string theirs = await LibxenstorePermissionsAsync(home, "data", ct);
            Expect.Equal(theirs, dataPerms.ToString().Replace(' ', ','), "xenstore-ls -p vs our client for home/data");
            return $"{home}: {homePerms}; data: {dataPerms} (xenstore-ls -p: {theirs})";
        });

        await runner.RunAsync("xenstore.guest.set-permissions", async ct =>
        {
            string node = $"/vdlab/guest-{domid}";
            await xs.WriteAsync(node, "shared", ct);
            var perms = new XenstorePermissions(domid, XenstoreAccess.None, new XenstorePermission(0, XenstoreAccess.Read));
            await xs.SetPermissionsAsync(node, perms, ct);
            XenstorePermissions back = await xs.GetPermissionsAsync(node, ct);
            Expect.Equal(perms, back, "read back");
            string theirs = await LibxenstorePermissionsAsync("/vdlab", $"guest-{domid}", ct);
            Expect.Equal(perms.ToString().Replace(' ', ','), theirs, "xenstore-ls -p");
            // A node dom0 makes below a guest-owned node inherits the parent's permissions (owner included).
            await xs.WriteAsync(node + "/child", "c", ct);
            XenstorePermissions child = await xs.GetPermissionsAsync(node + "/child", ct);
            Expect.Equal(domid, child.Owner, $"owner of a new child ({child})");
            return $"{node}: {back}; child inherits {child}";
        });

        await runner.RunAsync("xenstore.guest.release-watch", async ct =>
        {
            await using XenstoreWatch released = await xs.WatchAsync(XenstorePath.ReleaseDomain, ct);
            await released.ReadAsync(ct); // registration
            await ExternalTool.RunAsync("xl", ct, "destroy", Name);
            XenstoreWatchEvent e = await released.ReadAsync(ct);
            Expect.Equal(XenstorePath.ReleaseDomain, e.Path, "event path");
            bool still = true;
            for (int i = 0; i < 50 && still; i++)
            {
                try
                {
                    still = await xs.IsDomainIntroducedAsync(domid, ct);
                }
                catch (XenstoreException)
                {
                    still = false; // oxenstored refuses a domain it no longer knows
                }

                if (still)
                {
                    await Task.Delay(100, ct);
                }
            }

            Expect.True(!still, "domain still introduced 5 s after xl destroy");
            Expect.Equal(false, await xs.ExistsAsync(home, ct), "home after xl destroy");
            return $"xl destroy: @releaseDomain fired, domain {domid} no longer introduced, home removed";
        }, TimeSpan.FromSeconds(120));
    }

    /// <summary>The permissions libxenstore's xenstore-ls -p prints for <paramref name="child"/> of
    /// <paramref name="parent"/>, as "n5,r0".</summary>
    private static async Task<string> LibxenstorePermissionsAsync(string parent, string child, CancellationToken ct)
    {
        string listing = await ExternalTool.RunAsync("xenstore-ls", ct, "-p", parent);
        string line = listing.Split('\n').FirstOrDefault(l => l.StartsWith(child + " ", StringComparison.Ordinal))
            ?? throw new CheckFailedException($"xenstore-ls -p {parent} has no line for {child}: {listing}");
        int open = line.LastIndexOf('(');
        int close = line.LastIndexOf(')');
        Expect.True(open >= 0 && close > open, $"permissions in '{line}'");
        return line[(open + 1)..close];
    }
}
