using System.Diagnostics;
using VirtualDevices.Xen;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.Tests.Xen.Loopback;

/// <summary>
/// Event channels over the loopback hypervisor between two domains of this process: bind, events both ways,
/// coalescing, the async stream, a storm that costs the waiter no CPU beyond its own pace, and closes seen as typed
/// errors rather than hangs.
/// </summary>
public sealed class LoopbackEventChannelTests : IAsyncLifetime
{
    private const int Wait = 10_000;

    private LoopbackHypervisor _hypervisor = null!;
    private LoopbackDomain _dom0 = null!;
    private LoopbackDomain _dom1 = null!;

    public Task InitializeAsync()
    {
        _hypervisor = LoopbackHypervisor.Start();
        _dom0 = _hypervisor.JoinInProcess(0);
        _dom1 = _hypervisor.JoinInProcess();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _dom1.Dispose();
        _dom0.Dispose();
        await _hypervisor.DisposeAsync();
    }

    private (IEventChannel Unbound, IEventChannel Bound) Pair()
    {
        IEventChannel unbound = _dom0.AllocateUnbound(1);
        IEventChannel bound = _dom1.BindInterdomain(0, unbound.Port);
        return (unbound, bound);
    }

    [Fact]
    public void ANotifyRightAfterTheOtherEndBoundIsNeverLost()
    {
        // The unbound end hears of the bind by a notice on its control socket, read by another thread; a notify sent
        // before that thread has read it asks the hypervisor instead of being dropped (a loaded CI run lost one).
        for (int i = 0; i < 200; i++)
        {
            var (a, b) = Pair();
            using (a)
            using (b)
            {
                Assert.Equal(1, b.Wait(Wait)); // the event every bound port starts with
                a.Notify();
                Assert.Equal(1, b.Wait(Wait));
            }
        }
    }

    [Fact]
    public void EventsGoBothWaysAndTheBoundEndStartsWithOnePending()
    {
        var (a, b) = Pair();
        using (a)
        using (b)
        {
            Assert.Equal(1, a.RemoteDomain);
            Assert.Equal(0, b.RemoteDomain);
            Assert.Contains(_hypervisor.Channels, c => c.DomainId == 0 && c.Port == a.Port && c.RemoteDomain == 1 && c.RemotePort == b.Port);
            Assert.Equal(1, b.Wait(Wait));
            Assert.Equal(0, a.Wait(0));
            Assert.Equal(0, b.Wait(0));

            b.Notify();
            Assert.Equal(1, a.Wait(Wait));
            a.Notify();
            Assert.Equal(1, b.Wait(Wait));

            // Events sent while nobody waits coalesce into one wake-up.
            for (int i = 0; i < 100; i++)
            {
                a.Notify();
            }

            Assert.Equal(100, b.Wait(Wait));
            Assert.Equal(0, b.Wait(50));
        }
    }

    [Fact]
    public void BindingAPortNotMeantForTheCallerOrNotUnboundIsRefused()
    {
        using IEventChannel forSeven = _dom0.AllocateUnbound(7);
        Assert.Equal(DeviceErrorIds.XenLoopback.PortNotFound, Assert.Throws<DeviceException>(() => _dom1.BindInterdomain(0, forSeven.Port)).ErrorId);
        Assert.Equal(DeviceErrorIds.XenLoopback.PortNotFound, Assert.Throws<DeviceException>(() => _dom1.BindInterdomain(0, 999)).ErrorId);
        Assert.Equal(DeviceErrorIds.XenLoopback.DomainNotFound, Assert.Throws<DeviceException>(() => _dom1.BindInterdomain(33, 1)).ErrorId);
        var (a, b) = Pair();
        using (a)
        using (b)
        {
            Assert.Equal(DeviceErrorIds.XenLoopback.PortNotFound, Assert.Throws<DeviceException>(() => _dom1.BindInterdomain(0, a.Port)).ErrorId);
        }
    }

    [Fact]
    public async Task AnAsyncWaitAndTheStreamDeliverEventsAndEndOnCancellation()
    {
        var (a, b) = Pair();
        using (a)
        using (b)
        {
            Assert.Equal(1, await b.WaitAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
            ValueTask<int> waiting = a.WaitAsync();
            await Task.Delay(50);
            Assert.False(waiting.IsCompleted);
            b.Notify();
            Assert.Equal(1, await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

            using var cancellation = new CancellationTokenSource();
            int received = 0;
            var reader = Task.Run(async () =>
            {
                await foreach (int events in a.ReadAllAsync(cancellation.Token))
                {
                    received += events;
                    if (received >= 3)
                    {
                        break;
                    }
                }
            });
            for (int i = 0; i < 3; i++)
            {
                b.Notify();
                await Task.Delay(20);
            }

            await reader.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(3, received);

            ValueTask<int> cancelled = a.WaitAsync(cancellation.Token);
            cancellation.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

            // The wait after a cancelled one still works.
            b.Notify();
            Assert.Equal(1, await a.WaitAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        }
    }

    [Fact]
    public async Task UnbindingOneEndEndsTheOtherEndsWaitWithATypedError()
    {
        var (a, b) = Pair();
        using (a)
        {
            Assert.Equal(1, b.Wait(Wait));
            var waiter = Task.Run(() => a.Wait(Timeout.Infinite));
            await Task.Delay(100);
            Assert.False(waiter.IsCompleted);
            b.Dispose();
            var error = await Assert.ThrowsAsync<XenDeviceException>(() => waiter.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(DeviceErrorIds.Xen.EventChannelClosed, error.ErrorId);
            Assert.Equal(DeviceErrorIds.Xen.EventChannelClosed, Assert.Throws<XenDeviceException>(a.Notify).ErrorId);
            Assert.Equal(DeviceErrorIds.Xen.EventChannelClosed, (await Assert.ThrowsAsync<XenDeviceException>(() => a.WaitAsync().AsTask())).ErrorId);
            Assert.Throws<ObjectDisposedException>(() => b.Wait(0));
        }

        Assert.DoesNotContain(_hypervisor.Channels, c => c.Port == a.Port && c.DomainId == 0);
    }

    [Fact]
    public async Task ADomainThatLeavesClosesItsChannelsAndTheAsyncWaiterSeesIt()
    {
        LoopbackDomain dom2 = _hypervisor.JoinInProcess();
        using IEventChannel a = _dom0.AllocateUnbound(dom2.DomainId);
        using IEventChannel waitingForBind = _dom0.AllocateUnbound(dom2.DomainId);
        IEventChannel b = dom2.BindInterdomain(0, a.Port);
        ValueTask<int> waiting = a.WaitAsync();
        var blocked = Task.Run(() => waitingForBind.Wait(Timeout.Infinite));
        await Task.Delay(50);

        dom2.Dispose();

        Assert.Equal(DeviceErrorIds.Xen.EventChannelClosed, (await Assert.ThrowsAsync<XenDeviceException>(() => waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10)))).ErrorId);
        Assert.Equal(DeviceErrorIds.Xen.EventChannelClosed, (await Assert.ThrowsAsync<XenDeviceException>(() => blocked.WaitAsync(TimeSpan.FromSeconds(10)))).ErrorId);
        Assert.DoesNotContain(_hypervisor.Channels, c => c.DomainId == dom2.DomainId || c.RemoteDomain == dom2.DomainId);

        // The departed domain's own channel says the hypervisor is gone for it too.
        Assert.Equal(DeviceErrorIds.Xen.EventChannelClosed, Assert.Throws<XenDeviceException>(b.Notify).ErrorId);
        b.Dispose();
    }

    [Fact]
    public async Task ABlockingWaitWithoutTheSpinSeesPendingEventsCancellationAndTheOtherEndsClose()
    {
        // WaitBlocking is the wait of a caller that spun on its ring already: it polls before it reads, so every case
        // the read-first wait covers must still come out the same: events pending, counted, a timeout, a cancellation,
        // a close seen while blocked and after.
        var (a, b) = Pair();
        using (a)
        {
            Assert.Equal(1, b.WaitBlocking(Wait)); // pending since the bind
            Assert.Equal(0, b.WaitBlocking(0));
            a.Notify();
            a.Notify();
            Assert.Equal(2, b.WaitBlocking(Wait)); // coalesced, counted

            var woken = Task.Factory.StartNew(() => b.WaitBlocking(Wait), TaskCreationOptions.LongRunning);
            await Task.Delay(50);
            a.Notify();
            Assert.Equal(1, await woken.WaitAsync(TimeSpan.FromSeconds(10)));

            using (var cancel = new CancellationTokenSource(50))
            {
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Run(() => b.WaitBlocking(Timeout.Infinite, cancel.Token)).WaitAsync(TimeSpan.FromSeconds(10)));
            }

            var blocked = Task.Factory.StartNew(() => b.WaitBlocking(Timeout.Infinite), TaskCreationOptions.LongRunning);
            await Task.Delay(50);
            a.Dispose();
            Assert.Equal(DeviceErrorIds.Xen.EventChannelClosed, (await Assert.ThrowsAsync<XenDeviceException>(() => blocked.WaitAsync(TimeSpan.FromSeconds(10)))).ErrorId);

            // Closed already (its wake drained by the wait above): the next blocking wait still says so at once.
            Assert.Equal(DeviceErrorIds.Xen.EventChannelClosed, (await Assert.ThrowsAsync<XenDeviceException>(() => Task.Run(() => b.WaitBlocking(Timeout.Infinite)).WaitAsync(TimeSpan.FromSeconds(10)))).ErrorId);
            b.Dispose();
            Assert.Throws<ObjectDisposedException>(() => b.WaitBlocking(0));
        }
    }

    [Fact]
    public async Task AWaitWithNothingPendingBlocksWithoutSpinning()
    {
        var (a, b) = Pair();
        using (a)
        using (b)
        {
            Assert.Equal(1, b.Wait(Wait));
            (long ticks, long elapsed, int events) = await Task.Factory.StartNew(() =>
            {
                var watch = Stopwatch.StartNew();
                long before = ThreadCpu.Ticks();
                int events = b.Wait(500);
                return (ThreadCpu.Ticks() - before, watch.ElapsedMilliseconds, events);
            }, TaskCreationOptions.LongRunning);
            Assert.Equal(0, events);
            Assert.InRange(elapsed, 450, 10_000);
            Assert.True(ticks < 10, $"the wait spun: {ticks} clock ticks of CPU in a 500 ms wait");
        }
    }

    [Fact]
    public async Task AStormOfEventsCostsTheWaiterItsOwnPaceNotTheStorms()
    {
        var (a, b) = Pair();
        using (a)
        using (b)
        {
            Assert.Equal(1, b.Wait(Wait));
            using var stop = new CancellationTokenSource();
            long sent = 0;
            var storm = Task.Factory.StartNew(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    a.Notify();
                    sent++;
                }
            }, TaskCreationOptions.LongRunning);

            // A driver that handles its ring for 5 ms per wake-up, for a second, under a sender that never pauses.
            (long ticks, int wakeUps, long events) = await Task.Factory.StartNew(() =>
            {
                long before = ThreadCpu.Ticks();
                var watch = Stopwatch.StartNew();
                int wakeUps = 0;
                long events = 0;
                while (watch.ElapsedMilliseconds < 1000)
                {
                    events += b.Wait(Wait);
                    wakeUps++;
                    Thread.Sleep(5);
                }

                return (ThreadCpu.Ticks() - before, wakeUps, events);
            }, TaskCreationOptions.LongRunning);
            stop.Cancel();
            await storm.WaitAsync(TimeSpan.FromSeconds(10));

            Assert.True(events > wakeUps, $"the events coalesced: {events} events in {wakeUps} wake-ups ({sent} sent)");
            Assert.InRange(wakeUps, 1, 1000 / 5);
            Assert.True(ticks < 25, $"the waiter spent {ticks} clock ticks of CPU in 1 s of storm ({wakeUps} wake-ups for {events} events)");
        }
    }
}
