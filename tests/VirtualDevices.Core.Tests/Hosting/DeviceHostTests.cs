using VirtualDevices.Block;
using VirtualDevices.Devices;
using VirtualDevices.Hosting;
using VirtualDevices.Network;

namespace VirtualDevices.Tests.Hosting;

public sealed class DeviceHostTests
{
    private static MemoryBlockDevice Memory(DeviceHost host, string? name = null) =>
        host.AddDevice("memory", name, n => new MemoryBlockDevice(4096, name: n));

    [Fact]
    public async Task DefaultNamesArePerHostAndTwoHostsDoNotShareThem()
    {
        await using var first = new DeviceHost();
        await using var second = new DeviceHost();
        Assert.Equal("memory0", Memory(first).Name);
        Assert.Equal("memory1", Memory(first).Name);
        // A second host (another runspace) starts its own sequence, and may use the same names.
        Assert.Equal("memory0", Memory(second).Name);
        Assert.Equal("disk", Memory(first, "disk").Name);
        Assert.Equal("disk", Memory(second, "disk").Name);
        Assert.Equal(["memory0", "memory1", "disk"], first.Devices.Select(d => d.Name));
        Assert.Equal(["memory0", "disk"], second.Devices.Select(d => d.Name));
    }

    [Fact]
    public async Task DefaultNamesSkipNamesInUseAndAreNotReusedOnceTheirDeviceExisted()
    {
        await using var host = new DeviceHost();
        Memory(host, "memory0");
        Memory(host, "MEMORY1");
        Assert.Equal("memory2", Memory(host).Name);
        MemoryBlockDevice third = Memory(host);
        Assert.Equal("memory3", third.Name);
        await host.CloseDeviceAsync(third);
        // nbd0, memory3... name one device each in a session's history: a closed device's number is not handed out again.
        Assert.Equal("memory4", Memory(host).Name);
        // Its name is free for a name given explicitly, though.
        Assert.Equal("memory3", Memory(host, "memory3").Name);
        Assert.Equal("file0", host.AddDevice("file", null, n => new MemoryBlockDevice(4096, name: n)).Name);
    }

    [Fact]
    public async Task ATakenNameIsRefusedBeforeAnythingIsMade()
    {
        await using var host = new DeviceHost();
        Memory(host, "same");
        bool called = false;
        var e = Assert.Throws<DeviceException>(() => host.AddDevice("memory", "SAME", n =>
        {
            called = true;
            return new MemoryBlockDevice(4096, name: n);
        }));
        Assert.Equal("DeviceNameInUse", e.ErrorId);
        Assert.Equal(DeviceErrorCategory.ResourceExists, e.Category);
        Assert.Equal("A device named 'SAME' is already open in this session.", e.Message);
        Assert.False(called);

        await using var other = new MemoryBlockDevice(4096, name: "same");
        Assert.Equal("DeviceNameInUse", Assert.Throws<DeviceException>(() => host.AddDevice(other)).ErrorId);
    }

    [Theory]
    [InlineData("bad name")]
    [InlineData("a/b")]
    [InlineData("nbd*")]
    [InlineData("caf\u00e9")]
    public async Task ANameThatBreaksTheRuleIsRefusedBeforeAnythingIsMade(string name)
    {
        await using var host = new DeviceHost();
        bool called = false;
        var e = Assert.Throws<DeviceException>(() => host.AddDevice("memory", name, n =>
        {
            called = true;
            return new MemoryBlockDevice(4096, name: n);
        }));
        Assert.Equal("InvalidName", e.ErrorId);
        Assert.Equal(DeviceErrorCategory.InvalidArgument, e.Category);
        Assert.False(called);
        var s = await Assert.ThrowsAsync<DeviceException>(() => host.StartServiceAsync<RecordingService>("svc", name, (n, _) => throw new InvalidOperationException("not reached")));
        Assert.Equal("InvalidName", s.ErrorId);

        // The rule's own characters pass, and the name is free afterwards.
        Assert.Equal("A-z_0.9", Memory(host, "A-z_0.9").Name);
    }

    [Fact]
    public async Task AFailedCreateGivesItsDefaultNameBackUnlessANameWasHandedOutSince()
    {
        await using var host = new DeviceHost();
        var refused = new DeviceDisconnectedException("nbd0", "nothing listens");
        Assert.Same(refused, await Assert.ThrowsAsync<DeviceDisconnectedException>(() =>
            host.AddDeviceAsync<MemoryBlockDevice>("nbd", null, (_, _) => Task.FromException<MemoryBlockDevice>(refused))));
        // The next connect takes nbd0: failed connects use up no numbers.
        Assert.Equal("nbd0", host.AddDevice("nbd", null, n => new MemoryBlockDevice(4096, name: n)).Name);

        // A failure while another device took the next number leaves that number taken.
        var gate = new TaskCompletionSource();
        Task<MemoryBlockDevice> failing = host.AddDeviceAsync<MemoryBlockDevice>("nbd", null, async (n, _) =>
        {
            await gate.Task;
            throw new DeviceDisconnectedException(n, "refused");
        });
        Assert.Equal("nbd2", host.AddDevice("nbd", null, n => new MemoryBlockDevice(4096, name: n)).Name);
        gate.SetResult();
        await Assert.ThrowsAsync<DeviceDisconnectedException>(() => failing);
        Assert.Equal("nbd3", host.AddDevice("nbd", null, n => new MemoryBlockDevice(4096, name: n)).Name);
        // A given name that failed is free again.
        await Assert.ThrowsAsync<IOException>(() => host.AddDeviceAsync<MemoryBlockDevice>("nbd", "mine", (_, _) => throw new IOException("no")));
        Assert.Equal("mine", host.AddDevice("nbd", "mine", n => new MemoryBlockDevice(4096, name: n)).Name);
    }

    [Fact]
    public async Task ListsDevicesOfEveryFamilyUntilTheyAreRemovedEvenOnceDisconnected()
    {
        await using var host = new DeviceHost();
        MemoryBlockDevice disk = Memory(host, "disk-a");
        var (nic, peer) = MemoryNetworkDevice.CreatePair(firstName: "nic-a");
        host.AddDevice(nic);
        Assert.Equal(["disk-a", "nic-a"], host.Devices.Select(d => d.Name));
        Assert.Same(disk, host.GetDevice("DISK-A"));

        // Disconnected (by its peer, or by anyone): still listed, so that using it by name says what happened.
        await disk.DisconnectAsync();
        Assert.Same(disk, host.GetDevice("disk-a"));
        Assert.False(host.GetDevice("disk-a").IsConnected);
        Assert.True(host.RemoveDevice(disk));
        Assert.False(host.RemoveDevice(disk));
        Assert.Equal(["nic-a"], host.Devices.Select(d => d.Name));
        Assert.Throws<DeviceNotFoundException>(() => host.GetDevice("disk-a"));
        await host.DisposeAsync();
        Assert.Empty(host.Devices);
        Assert.False(nic.IsConnected);
        await peer.DisposeAsync();
    }

    [Fact]
    public async Task ServicesAreNamedByTheSameRuleInTheirOwnTable()
    {
        await using var host = new DeviceHost();
        var log = new List<string>();
        RecordingService a = await host.StartServiceAsync("nbd-server", null, (n, _) => Task.FromResult(new RecordingService(n, log)));
        await host.StartServiceAsync("nbd-server", "nbd-server1", (n, _) => Task.FromResult(new RecordingService(n, log)));
        await host.StartServiceAsync("nbd-server", null, (n, _) => Task.FromResult(new RecordingService(n, log)));
        // Devices and services do not share names: a device may be called as a server is.
        Memory(host, "nbd-server0");
        Assert.Equal(["nbd-server0", "nbd-server1", "nbd-server2"], host.Services.Select(s => s.Name));
        Assert.Equal("nbd-server0", host.NameOf(a));

        bool started = false;
        var e = await Assert.ThrowsAsync<DeviceException>(() => host.StartServiceAsync("nbd-server", "NBD-SERVER1", (n, _) =>
        {
            started = true;
            return Task.FromResult(new RecordingService(n, log));
        }));
        Assert.Equal("ServiceNameInUse", e.ErrorId);
        Assert.Equal("A server named 'NBD-SERVER1' is already running in this session.", e.Message);
        Assert.False(started);

        await host.StopServiceAsync(a);
        Assert.Equal(["stop nbd-server0", "dispose nbd-server0"], log);
        Assert.Null(host.NameOf(a));
        RecordingService next = await host.StartServiceAsync("nbd-server", null, (n, _) => Task.FromResult(new RecordingService(n, log)));
        Assert.Equal("nbd-server3", host.NameOf(next));
    }

    [Fact]
    public async Task ClosesNewestFirstAndAServiceAlwaysBeforeTheDevicesItServes()
    {
        var log = new List<string>();
        var host = new DeviceHost();
        MemoryBlockDevice Logged(string name)
        {
            MemoryBlockDevice device = Memory(host, name);
            device.Disconnected += (_, _) =>
            {
                lock (log)
                {
                    log.Add("close " + name);
                }
            };
            return device;
        }

        MemoryBlockDevice d1 = Logged("d1");
        Logged("d2");
        await host.StartServiceAsync("s", "s1", (n, _) => Task.FromResult(new RecordingService(n, log, d1)));
        host.GetOrAddPart(() => new RecordingPart(log));
        Assert.Same(host.GetOrAddPart<RecordingPart>(() => throw new InvalidOperationException("made twice")), host.GetOrAddPart(() => new RecordingPart(log)));
        // A service that serves a device added after it (a mistake of order) still stops before that device closes.
        MemoryBlockDevice late = Memory(host, "late");
        await host.StartServiceAsync("s", "s0", (n, _) => Task.FromResult(new RecordingService(n, log)));
        Logged("d3");

        await host.DisposeAsync();
        Assert.Equal(["close d3", "dispose s0", "dispose part", "dispose s1", "close d2", "close d1"], log);
        Assert.Empty(host.Devices);
        Assert.Empty(host.Services);
        Assert.False(late.IsConnected);
        await host.DisposeAsync(); // twice is harmless
    }

    [Fact]
    public async Task AServiceThatServesALaterDeviceStopsBeforeIt()
    {
        var log = new List<string>();
        var host = new DeviceHost();
        var device = new MemoryBlockDevice(4096, name: "later");
        device.Disconnected += (_, _) => log.Add("close later");
        await host.StartServiceAsync("s", "early", (n, _) => Task.FromResult(new RecordingService(n, log, device)));
        host.AddDevice(device);
        await host.DisposeAsync();
        Assert.Equal(["dispose early", "close later"], log);
    }

    [Fact]
    public async Task AServiceFailingToStopDoesNotKeepTheRestOpen()
    {
        var log = new List<string>();
        var host = new DeviceHost();
        MemoryBlockDevice disk = Memory(host, "disk");
        await host.StartServiceAsync("s", "good", (n, _) => Task.FromResult(new RecordingService(n, log, disk)));
        await host.StartServiceAsync("s", "bad", (n, _) => Task.FromResult(new RecordingService(n, log, disk) { FailOnDispose = true }));
        MemoryBlockDevice after = Memory(host, "after");

        var e = await Assert.ThrowsAsync<AggregateException>(() => host.DisposeAsync().AsTask());
        Assert.Equal("bad failed to stop", Assert.IsType<IOException>(Assert.Single(e.InnerExceptions)).Message);
        Assert.Equal(["dispose bad", "dispose good"], log);
        Assert.False(disk.IsConnected);
        Assert.False(after.IsConnected);
        Assert.Empty(host.Services);
        Assert.Empty(host.Devices);
    }

    [Fact]
    public async Task ConcurrentAddsGetDistinctNamesAndOneWinsAGivenName()
    {
        await using var host = new DeviceHost();
        const int Count = 200;
        string[] names = await Task.WhenAll(Enumerable.Range(0, Count).Select(_ => Task.Run(async () =>
            (await host.AddDeviceAsync("memory", null, async (n, _) =>
            {
                await Task.Yield();
                return new MemoryBlockDevice(4096, name: n);
            })).Name)));
        Assert.Equal(Enumerable.Range(0, Count).Select(i => "memory" + i).Order(), names.Order());

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() =>
        {
            try
            {
                Memory(host, "contested");
                return true;
            }
            catch (DeviceException e) when (e.ErrorId == "DeviceNameInUse")
            {
                return false;
            }
        })));
        Assert.Single(outcomes, won => won);
        Assert.Equal(Count + 1, host.Devices.Count);
    }

    [Fact]
    public async Task ADeviceMadeWhileTheHostClosesIsClosedNotLeaked()
    {
        var host = new DeviceHost();
        var gate = new TaskCompletionSource();
        MemoryBlockDevice? made = null;
        Task<MemoryBlockDevice> adding = host.AddDeviceAsync("memory", null, async (n, _) =>
        {
            await gate.Task;
            return made = new MemoryBlockDevice(4096, name: n);
        });
        await host.DisposeAsync();
        gate.SetResult();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => adding);
        Assert.False(made!.IsConnected);
        Assert.Throws<ObjectDisposedException>(() => Memory(host));
    }

    [Fact]
    public async Task ADeviceMadeUnderAnotherNameThanItWasGivenIsRefused()
    {
        await using var host = new DeviceHost();
        MemoryBlockDevice? made = null;
        Assert.Throws<InvalidOperationException>(() => host.AddDevice("memory", null, _ => made = new MemoryBlockDevice(4096, name: "elsewhere")));
        Assert.False(made!.IsConnected);
        Assert.Equal("memory0", Memory(host).Name);
    }
}
