using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>Permission lists, isolation between domains, and the per-domain quotas.</summary>
public sealed class XenstorePermissionTests
{
    [Theory]
    [InlineData("n0", 0, XenstoreAccess.None)]
    [InlineData("r1 b5", 1, XenstoreAccess.Read)]
    [InlineData("b7,w3", 7, XenstoreAccess.Both)]
    public void Permissions_parse_and_format_like_xenstore_chmod(string text, int owner, XenstoreAccess defaultAccess)
    {
        XenstorePermissions permissions = XenstorePermissions.Parse(text);
        Assert.Equal(owner, permissions.Owner);
        Assert.Equal(defaultAccess, permissions.DefaultAccess);
        Assert.Equal(text.Replace(',', ' '), permissions.ToString());
        Assert.Equal(permissions, XenstorePermissions.Parse(permissions.ToString()));
    }

    [Fact]
    public void Access_for_a_domain_follows_owner_entry_then_default()
    {
        XenstorePermissions permissions = XenstorePermissions.Parse("n1 r2 w3");
        Assert.Equal(XenstoreAccess.Both, permissions.AccessFor(1));
        Assert.Equal(XenstoreAccess.Read, permissions.AccessFor(2));
        Assert.Equal(XenstoreAccess.Write, permissions.AccessFor(3));
        Assert.Equal(XenstoreAccess.None, permissions.AccessFor(4));
        Assert.Equal("r5", new XenstorePermission(5, XenstoreAccess.Read).ToString());
        Assert.Throws<XenstoreException>(() => XenstorePermissions.Parse("x1"));
        Assert.Throws<XenstoreException>(() => XenstorePermissions.Parse(""));
        Assert.False(XenstorePermission.TryParse("r", out _));
    }

    [Theory]
    [InlineData("/", true)]
    [InlineData("/local/domain/0", true)]
    [InlineData("relative/path-ok_@", true)]
    [InlineData("", false)]
    [InlineData("/trailing/", false)]
    [InlineData("/double//slash", false)]
    [InlineData("/space here", false)]
    public void Path_rules(string path, bool valid)
    {
        Assert.Equal(valid, XenstorePath.IsValid(path));
        Assert.True(XenstorePath.IsValid("@releaseDomain", allowSpecial: true));
        Assert.Equal("/a/b", XenstorePath.Combine("/a", "b"));
        Assert.Equal("/a", XenstorePath.GetParent("/a/b"));
        Assert.Equal("b", XenstorePath.GetName("/a/b"));
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Domains_are_isolated_until_permissions_grant_access()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient dom0 = await server.ConnectAsync();
        foreach (int domain in new[] { 1, 2 })
        {
            await dom0.MakeDirectoryAsync($"/local/domain/{domain}");
            await dom0.SetPermissionsAsync($"/local/domain/{domain}", XenstorePermissions.Parse($"n{domain}"));
        }

        using XenstoreClient dom1 = server.ConnectAsDomain(1);
        using XenstoreClient dom2 = server.ConnectAsDomain(2);
        await dom1.WriteAsync("secret", "one");

        // dom2 can neither read, write, list, nor probe existence of dom1's nodes.
        Assert.Equal("EACCES", (await Assert.ThrowsAsync<XenstoreException>(() => dom2.ReadAsync("/local/domain/1/secret").AsTask())).ErrorName);
        Assert.Equal("EACCES", (await Assert.ThrowsAsync<XenstoreException>(() => dom2.WriteAsync("/local/domain/1/secret", "two").AsTask())).ErrorName);
        Assert.Equal("EACCES", (await Assert.ThrowsAsync<XenstoreException>(() => dom2.ListAsync("/local/domain/1").AsTask())).ErrorName);
        Assert.Equal("EACCES", (await Assert.ThrowsAsync<XenstoreException>(() => dom2.ReadAsync("/local/domain/1/absent").AsTask())).ErrorName);
        Assert.Equal("EACCES", (await Assert.ThrowsAsync<XenstoreException>(() => dom2.WriteAsync("/local/domain/1/new", "x").AsTask())).ErrorName);
        Assert.Equal("EACCES", (await Assert.ThrowsAsync<XenstoreException>(() => dom2.RemoveAsync("/local/domain/1/secret").AsTask())).ErrorName);
        Assert.Equal("EACCES", (await Assert.ThrowsAsync<XenstoreException>(() => dom2.SetPermissionsAsync("/local/domain/1/secret", XenstorePermissions.Parse("b2")).AsTask())).ErrorName);
        // Nor the root, which dom0 owns with no access for others.
        Assert.Equal("EACCES", (await Assert.ThrowsAsync<XenstoreException>(() => dom2.WriteAsync("/toplevel", "x").AsTask())).ErrorName);

        // The owner grants dom2 read access: reading works, writing still does not.
        await dom1.SetPermissionsAsync("secret", XenstorePermissions.Parse("n1 r2"));
        Assert.Equal("one", await dom2.ReadStringAsync("/local/domain/1/secret"));
        Assert.Equal("EACCES", (await Assert.ThrowsAsync<XenstoreException>(() => dom2.WriteAsync("/local/domain/1/secret", "two").AsTask())).ErrorName);

        // Unprivileged domains may not give nodes away; dom0 may.
        Assert.Equal("EPERM", (await Assert.ThrowsAsync<XenstoreException>(() => dom1.SetPermissionsAsync("secret", XenstorePermissions.Parse("n2")).AsTask())).ErrorName);
        await dom0.SetPermissionsAsync("/local/domain/1/secret", XenstorePermissions.Parse("n2"));
        Assert.Equal("one", await dom2.ReadStringAsync("/local/domain/1/secret"));
        Assert.Equal("EACCES", (await Assert.ThrowsAsync<XenstoreException>(() => dom1.ReadAsync("secret").AsTask())).ErrorName);

        // dom0 reads everything.
        Assert.Equal("one", await dom0.ReadStringAsync("/local/domain/1/secret"));
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Set_target_lets_a_device_model_act_for_its_guest()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient dom0 = await server.ConnectAsync();
        await dom0.MakeDirectoryAsync("/local/domain/3");
        await dom0.SetPermissionsAsync("/local/domain/3", XenstorePermissions.Parse("n3"));
        using XenstoreClient stubdom = server.ConnectAsDomain(4);
        Assert.Equal("EACCES", (await Assert.ThrowsAsync<XenstoreException>(() => stubdom.WriteAsync("/local/domain/3/x", "1").AsTask())).ErrorName);
        await dom0.SetTargetAsync(4, 3);
        await stubdom.WriteAsync("/local/domain/3/x", "1");
        Assert.Equal("1", await stubdom.ReadStringAsync("/local/domain/3/x"));
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Quotas_limit_unprivileged_domains_only()
    {
        var options = new XenstoreServerOptions { MaxEntriesPerDomain = 5, MaxEntrySize = 16, MaxWatchesPerDomain = 2, MaxTransactionsPerDomain = 1, MaxPermissionsPerNode = 2 };
        await using var server = XenstoreTestServer.Start(options);
        await using XenstoreClient dom0 = await server.ConnectAsync();
        await dom0.MakeDirectoryAsync("/local/domain/9");
        await dom0.SetPermissionsAsync("/local/domain/9", XenstorePermissions.Parse("n9"));
        using XenstoreClient guest = server.ConnectAsDomain(9);

        // Entries: the home node (now owned by 9) plus 4 more reach the quota of 5.
        await guest.WriteAsync("a/b/c", "x");
        await guest.WriteAsync("d", "x");
        var entries = await Assert.ThrowsAsync<XenstoreException>(() => guest.WriteAsync("e", "x").AsTask());
        Assert.Equal("ENOSPC", entries.ErrorName);
        Assert.Equal("XenstoreQuotaExceeded", entries.ErrorId);
        await guest.RemoveAsync("a");
        await guest.WriteAsync("e", "x");

        Assert.Equal("ENOSPC", (await Assert.ThrowsAsync<XenstoreException>(() => guest.WriteAsync("d", new string('v', 17)).AsTask())).ErrorName);
        Assert.Equal("ENOSPC", (await Assert.ThrowsAsync<XenstoreException>(() => guest.SetPermissionsAsync("d", XenstorePermissions.Parse("n9 r1 r2")).AsTask())).ErrorName);

        await using XenstoreWatch w1 = await guest.WatchAsync("d");
        await using XenstoreWatch w2 = await guest.WatchAsync("e");
        Assert.Equal("E2BIG", (await Assert.ThrowsAsync<XenstoreException>(() => guest.WatchAsync("/local/domain/9").AsTask())).ErrorName);

        await using XenstoreTransaction t1 = await guest.BeginTransactionAsync();
        Assert.Equal("ENOSPC", (await Assert.ThrowsAsync<XenstoreException>(() => guest.BeginTransactionAsync().AsTask())).ErrorName);

        // dom0 is not bound by quotas.
        for (int i = 0; i < 10; i++)
        {
            await dom0.WriteAsync($"/local/domain/9/dom0-{i}", new string('v', 100));
        }

        await using XenstoreWatch d1 = await dom0.WatchAsync("/a");
        await using XenstoreWatch d2 = await dom0.WatchAsync("/b");
        await using XenstoreWatch d3 = await dom0.WatchAsync("/c");
    }
}
