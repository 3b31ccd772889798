using System.Text;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>Our client against our server: every node operation, limits, errors, multiplexing, in-process and device paths.</summary>
public sealed class XenstoreClientServerTests
{
    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Read_write_list_exists_remove_round_trip()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        CancellationToken ct = XenstoreTestTimeouts.Wait();

        await xs.WriteAsync("/vm/1/name", "guest", ct);
        await xs.WriteAsync("/vm/1/memory", new byte[] { 1, 0, 2 }, ct);
        await xs.MakeDirectoryAsync("/vm/1/device", ct);

        Assert.Equal("guest", await xs.ReadStringAsync("/vm/1/name", ct));
        Assert.Equal(new byte[] { 1, 0, 2 }, await xs.ReadAsync("/vm/1/memory", ct));
        Assert.Equal(string.Empty, await xs.ReadStringAsync("/vm/1/device", ct));
        Assert.Equal(["device", "memory", "name"], (await xs.ListAsync("/vm/1", ct)).Order(StringComparer.Ordinal));
        Assert.True(await xs.ExistsAsync("/vm/1/name", ct));
        Assert.False(await xs.ExistsAsync("/vm/1/nothing", ct));
        Assert.Null(await xs.TryReadAsync("/vm/1/nothing", ct));
        Assert.Null(await xs.TryReadStringAsync("/vm/2/nothing", ct));

        // MKDIR leaves an existing value alone.
        await xs.MakeDirectoryAsync("/vm/1/name", ct);
        Assert.Equal("guest", await xs.ReadStringAsync("/vm/1/name", ct));

        await xs.RemoveAsync("/vm/1", ct);
        Assert.False(await xs.ExistsAsync("/vm/1", ct));
        Assert.Empty(await xs.ListAsync("/vm", ct));

        // Removing a missing node is fine when its parent exists, an error when the parent is missing too.
        await xs.RemoveAsync("/vm/1", ct);
        var missingParent = await Assert.ThrowsAsync<XenstoreException>(() => xs.RemoveAsync("/vm/1/x", ct).AsTask());
        Assert.Equal("ENOENT", missingParent.ErrorName);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Errors_are_typed_by_name_with_stable_ids()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        var e = await Assert.ThrowsAsync<XenstoreException>(() => xs.ReadAsync("/missing").AsTask());
        Assert.Equal("ENOENT", e.ErrorName);
        Assert.Equal("XenstoreNotFound", e.ErrorId);
        Assert.Equal(DeviceErrorCategory.ObjectNotFound, e.Category);
        Assert.Equal("/missing", e.Path);

        var root = await Assert.ThrowsAsync<XenstoreException>(() => xs.RemoveAsync("/").AsTask());
        Assert.Equal("EINVAL", root.ErrorName);
        Assert.Equal(DeviceErrorCategory.InvalidArgument, root.Category);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Relative_paths_resolve_under_the_domain_path()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient dom0 = await server.ConnectAsync();
        await dom0.WriteAsync("relative/key", "zero");
        Assert.Equal("zero", await dom0.ReadStringAsync("/local/domain/0/relative/key"));
        Assert.Equal("/local/domain/7", await dom0.GetDomainPathAsync(7));

        // A guest writes under its own home.
        await dom0.MakeDirectoryAsync("/local/domain/7");
        await dom0.SetPermissionsAsync("/local/domain/7", XenstorePermissions.Parse("n7"));
        using XenstoreClient dom7 = server.ConnectAsDomain(7);
        await dom7.WriteAsync("data/x", "seven");
        Assert.Equal("seven", await dom0.ReadStringAsync("/local/domain/7/data/x"));
        Assert.Equal(7, (await dom0.GetPermissionsAsync("/local/domain/7/data/x")).Owner);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Large_directories_are_listed_transparently_in_parts()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        // 600 names of ~40 bytes: about 24 KiB of listing, six times the payload limit.
        string[] names = Enumerable.Range(0, 600).Select(i => $"entry-with-a-fairly-long-name-{i:D6}").ToArray();
        await Task.WhenAll(names.Select(n => xs.MakeDirectoryAsync("/big/" + n).AsTask()));

        IReadOnlyList<string> listed = await xs.ListAsync("/big", XenstoreTestTimeouts.Wait());
        Assert.Equal(names.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));

        // The same inside a transaction.
        await using XenstoreTransaction tx = await xs.BeginTransactionAsync();
        Assert.Equal(600, (await tx.ListAsync("/big")).Count);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Oversized_requests_fail_before_sending_and_the_connection_survives()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync(reconnect: false);

        var tooBig = await Assert.ThrowsAsync<XenstoreException>(() => xs.WriteAsync("/big", new byte[XenstoreLimits.PayloadMax]).AsTask());
        Assert.Equal("E2BIG", tooBig.ErrorName);
        Assert.Equal(DeviceErrorCategory.LimitsExceeded, tooBig.Category);

        string longPath = "/" + string.Join('/', Enumerable.Repeat("abcdefghij", 300));
        var pathTooLong = await Assert.ThrowsAsync<XenstoreException>(() => xs.ReadAsync(longPath).AsTask());
        Assert.Equal("E2BIG", pathTooLong.ErrorName);
        var relativeTooLong = await Assert.ThrowsAsync<XenstoreException>(() => xs.ReadAsync(new string('a', XenstoreLimits.RelativePathMax + 1)).AsTask());
        Assert.Equal("E2BIG", relativeTooLong.ErrorName);
        var invalid = await Assert.ThrowsAsync<XenstoreException>(() => xs.ReadAsync("/bad//path").AsTask());
        Assert.Equal("EINVAL", invalid.ErrorName);

        // The largest legal write still goes through on the same connection.
        byte[] largest = new byte[XenstoreLimits.PayloadMax - "/big".Length - 1];
        largest.AsSpan().Fill((byte)'x');
        await xs.WriteAsync("/big", largest);
        Assert.Equal(largest, await xs.ReadAsync("/big"));
        Assert.True(xs.IsConnected);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Concurrent_requests_are_multiplexed_on_one_connection()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            await xs.WriteAsync($"/mux/{i}", $"value-{i}");
            Assert.Equal($"value-{i}", await xs.ReadStringAsync($"/mux/{i}"));
        })));
        Assert.Equal(200, (await xs.ListAsync("/mux")).Count);
        Assert.Equal(1, server.Server.ConnectionCount);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Cancelled_request_does_not_disturb_later_requests()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => xs.ReadAsync("/x", cancelled.Token).AsTask());
        for (int i = 0; i < 50; i++)
        {
            await xs.WriteAsync("/x", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), await xs.ReadStringAsync("/x"));
        }
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Domain_requests_introduce_release_and_query()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        Assert.True(await xs.IsDomainIntroducedAsync(0));
        Assert.False(await xs.IsDomainIntroducedAsync(3));
        await xs.IntroduceDomainAsync(3, 0x1234, 5);
        Assert.True(await xs.IsDomainIntroducedAsync(3));
        Assert.True(server.Server.IsDomainIntroduced(3));
        await xs.ResumeDomainAsync(3);
        await xs.SetTargetAsync(4, 3);
        await xs.ReleaseDomainAsync(3);
        Assert.False(await xs.IsDomainIntroducedAsync(3));
        var again = await Assert.ThrowsAsync<XenstoreException>(() => xs.ReleaseDomainAsync(3).AsTask());
        Assert.Equal("ENOENT", again.ErrorName);
        Assert.Contains("help", await xs.ControlAsync("help"));

        // Only dom0 may manage domains.
        using XenstoreClient guest = server.ConnectAsDomain(5);
        var denied = await Assert.ThrowsAsync<XenstoreException>(() => guest.IntroduceDomainAsync(6, 1, 1).AsTask());
        Assert.Equal("EACCES", denied.ErrorName);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Device_code_path_works_over_a_stream_descriptor()
    {
        // /dev/xen/xenbus speaks the socket's wire format through read/write on a descriptor; a socket descriptor
        // exercises the same code without Xen.
        await using var server = XenstoreTestServer.Start();
        System.Net.Sockets.Socket socket = server.Server.ConnectInProcess(0);
        var descriptor = new VirtualDevices.Interop.SafeFileDescriptor((int)socket.SafeHandle.DangerousGetHandle(), ownsHandle: false);
        using (socket)
        using (XenstoreClient xs = XenstoreClient.FromDescriptor(descriptor, "fd"))
        {
            await xs.WriteAsync("/dev/test", "through read(2)/write(2)");
            Assert.Equal("through read(2)/write(2)", await xs.ReadStringAsync("/dev/test"));
            await using XenstoreWatch watch = await xs.WatchAsync("/dev");
            Assert.Equal("/dev", (await watch.ReadAsync(XenstoreTestTimeouts.Wait())).Path);
        }

        var missing = Assert.Throws<DeviceException>(() => XenstoreClient.OpenDevice("/nonexistent/xenbus"));
        Assert.Equal(DeviceErrorCategory.ConnectionError, missing.Category);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Connect_uses_XENSTORED_PATH_style_options_and_fails_cleanly_without_server()
    {
        using var directory = new TempDirectory();
        var e = await Assert.ThrowsAsync<DeviceException>(() => XenstoreClient.ConnectAsync(directory.File("none.sock")).AsTask());
        Assert.Equal("SocketNotFound", e.ErrorId);
        Assert.Equal(DeviceErrorCategory.ObjectNotFound, e.Category);

        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await XenstoreClient.ConnectAsync(new XenstoreClientOptions { SocketPath = server.SocketPath });
        Assert.Equal(server.SocketPath, xs.Endpoint);
        await xs.WriteAsync("/e", Encoding.UTF8.GetBytes("ok"));
        Assert.Equal("ok", await xs.ReadStringAsync("/e"));
    }
}
