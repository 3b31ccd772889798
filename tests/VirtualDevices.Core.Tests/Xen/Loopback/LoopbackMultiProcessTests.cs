using System.Diagnostics;
using VirtualDevices.Tests.Infrastructure;
using VirtualDevices.Xen;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.Tests.Xen.Loopback;

/// <summary>
/// Two processes over the loopback hypervisor: this one runs it and is domain 0; the other
/// (tests/VirtualDevices.XenLoopback.Peer, started here, always killed and reaped) joins through the control
/// socket. They share pages and exchange events with every byte checked; the peer's death closes the channels it
/// held (a typed error here, not a hang) and leaves the pages this process maps intact; a storm from the peer costs
/// this process's waiter no more CPU than its own pace.
/// </summary>
public sealed class LoopbackMultiProcessTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly string _socket = Path.Combine(Path.GetTempPath(), $"vd-loopback-{Guid.NewGuid():N}.sock");
    private LoopbackHypervisor _hypervisor = null!;
    private LoopbackDomain _dom0 = null!;

    public Task InitializeAsync()
    {
        _hypervisor = LoopbackHypervisor.Start(_socket);
        _dom0 = _hypervisor.JoinInProcess(0);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _dom0.Dispose();
        await _hypervisor.DisposeAsync();
    }

    /// <summary>The peer program, built beside this test project (it is a build-only reference of it).</summary>
    internal static string PeerProgram()
    {
        // bin/<Configuration>/net10.0 of this project -> the same of the peer's.
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string configuration = output.Parent!.Name;
        string tests = output.Parent.Parent!.Parent!.Parent!.FullName;
        string program = Path.Combine(tests, "VirtualDevices.XenLoopback.Peer", "bin", configuration, output.Name, "VirtualDevices.XenLoopback.Peer.dll");
        Assert.True(File.Exists(program), $"the peer program is built at {program}");
        return program;
    }

    internal static async Task<string[]> ReadLineAsync(ExternalProcess peer, string prefix)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < Limit)
        {
            string? line = peer.StandardOutput.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(prefix + " ", StringComparison.Ordinal) || l == prefix);
            if (line is not null)
            {
                return line.Split(' ');
            }

            string? error = peer.StandardOutput.Split('\n').FirstOrDefault(l => l.StartsWith("error", StringComparison.Ordinal));
            Assert.True(error is null, $"the peer failed: {error}");
            Assert.False(peer.HasExited, $"the peer exited before '{prefix}': {peer.StandardOutput} {peer.StandardError}");
            await Task.Delay(20);
        }

        throw new TimeoutException($"the peer did not print '{prefix}' within {Limit}: {peer.StandardOutput} {peer.StandardError}");
    }

    [Fact]
    public async Task TwoProcessesSharePagesAndExchangeEventsAndThePeersDeathIsSeen()
    {
        const int rounds = 200;
        await using ExternalProcess peer = ExternalProcess.Start("dotnet", [PeerProgram(), "echo", _socket, rounds.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        string[] ready = await ReadLineAsync(peer, "ready");
        ushort peerId = ushort.Parse(ready[1], System.Globalization.CultureInfo.InvariantCulture);
        uint port = uint.Parse(ready[2], System.Globalization.CultureInfo.InvariantCulture);
        uint[] references = [uint.Parse(ready[3], System.Globalization.CultureInfo.InvariantCulture), uint.Parse(ready[4], System.Globalization.CultureInfo.InvariantCulture)];
        Assert.Contains(_hypervisor.Grants, g => g.Granter == peerId && g.Reference == references[0] && g.Grantee == 0);

        using IMappedGrants pages = _dom0.Map(peerId, references, GrantAccess.ReadWrite);
        using IEventChannel channel = _dom0.BindInterdomain(peerId, port);
        int page = _dom0.PageSize;
        await Task.Factory.StartNew(() =>
        {
            for (int round = 1; round <= rounds; round++)
            {
                // The request: page 0 all but its first byte, then the first byte (what the peer waits for).
                Span<byte> request = pages.Memory.Span[..page];
                for (int i = 1; i < page; i++)
                {
                    request[i] = (byte)(round + i);
                }

                Volatile.Write(ref request[0], (byte)round);
                channel.Notify();

                // The answer: page 1, its first byte written last.
                while (Volatile.Read(ref pages.Memory.Span[page]) != (byte)(round * 3))
                {
                    Assert.True(channel.Wait(30_000) > 0 || Volatile.Read(ref pages.Memory.Span[page]) == (byte)(round * 3), $"round {round}: an answer within 30 s");
                }

                Span<byte> answer = pages.Memory.Span.Slice(page, page);
                for (int i = 0; i < page; i++)
                {
                    Assert.True(answer[i] == (byte)((round * 3) + i), $"round {round}: byte {i} of the answer is {answer[i]}");
                }
            }
        }, TaskCreationOptions.LongRunning).WaitAsync(Limit);
        await ReadLineAsync(peer, "done");

        // The peer dies (SIGKILL: no goodbye): its channel closes here, typed; the pages mapped here stay readable.
        peer.Kill();
        await peer.WaitForExitAsync(TimeSpan.FromSeconds(10));
        var error = await Assert.ThrowsAsync<XenDeviceException>(() => Task.Run(() => { while (true) { channel.Wait(Timeout.Infinite); } }).WaitAsync(Limit));
        Assert.Equal(DeviceErrorIds.Xen.EventChannelClosed, error.ErrorId);
        Assert.DoesNotContain(_hypervisor.Domains, d => d.DomainId == peerId);
        Assert.DoesNotContain(_hypervisor.Grants, g => g.Granter == peerId);
        Assert.Equal(unchecked((byte)(rounds * 3)), pages.Memory.Span[page]);
    }

    [Fact]
    public async Task AStormFromAnotherProcessCostsTheWaiterOnlyItsOwnPace()
    {
        using IEventChannel channel = _dom0.AllocateUnbound(1);
        await using ExternalProcess peer = ExternalProcess.Start("dotnet", [PeerProgram(), "storm", _socket, channel.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await ReadLineAsync(peer, "ready");

        (long ticks, int wakeUps, long events) = await Task.Factory.StartNew(() =>
        {
            long before = ThreadCpu.Ticks();
            var watch = Stopwatch.StartNew();
            int wakeUps = 0;
            long events = 0;
            while (watch.ElapsedMilliseconds < 1000)
            {
                events += channel.Wait(30_000);
                wakeUps++;
                Thread.Sleep(5);
            }

            return (ThreadCpu.Ticks() - before, wakeUps, events);
        }, TaskCreationOptions.LongRunning).WaitAsync(Limit);

        peer.Kill();
        Assert.True(events > wakeUps, $"the events coalesced: {events} events in {wakeUps} wake-ups");
        Assert.True(ticks < 25, $"the waiter spent {ticks} clock ticks of CPU in 1 s of storm ({wakeUps} wake-ups for {events} events)");
        await peer.WaitForExitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(DeviceErrorIds.Xen.EventChannelClosed, (await Assert.ThrowsAsync<XenDeviceException>(() => Task.Run(() => { while (true) { channel.Wait(Timeout.Infinite); } }).WaitAsync(Limit))).ErrorId);
    }
}
