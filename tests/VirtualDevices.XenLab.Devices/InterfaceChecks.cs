using System.Globalization;
using VirtualDevices.Xen;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;

namespace VirtualDevices.XenLab.Devices;

/// <summary>
/// The split drivers' interfaces on real Xen (issue 11): <see cref="IGrantTable"/> through <see cref="XenGrantTable"/>
/// and <see cref="IEventChannels"/> through <see cref="XenEventChannels"/>, in dom0 with domain 0 itself as the other
/// end; the same checks the loopback hypervisor passes in tests/VirtualDevices.Core.Tests/Xen/Loopback.
/// </summary>
internal sealed class InterfaceChecks(Checks checks) : IDisposable
{
    private const ushort Dom0 = 0;
    private const int EventWaitMilliseconds = 5_000;

    private XenGrantTable? _grants;
    private XenEventChannels? _events;

    public void Run()
    {
        checks.Run("interfaces.open", () =>
        {
            _grants = new XenGrantTable();
            _events = XenEventChannels.Open();
            return $"{_grants.AllocatorPath}, {_grants.MapperPath} (opened on first use), {_events.Path}; pages of {_grants.PageSize} bytes";
        });

        checks.Run("interfaces.grant-map-both-ways", () =>
        {
            IGrantTable grants = Grants();
            using IGrantedPages granted = grants.Grant(Dom0, 2, GrantAccess.ReadWrite);
            Expect.True(granted.References.Length == 2 && granted.Memory.Length == 2 * grants.PageSize, "two references, two pages");
            Expect.True(granted.Memory.Span.IndexOfAnyExcept((byte)0) < 0, "new granted pages are zeroed");
            new Random(11).NextBytes(granted.Memory.Span);
            using IMappedGrants mapping = grants.Map(Dom0, granted.References, GrantAccess.ReadWrite);
            Expect.True(mapping.Memory.Span.SequenceEqual(granted.Memory.Span), "the mapping reads what the grant holds");
            mapping.Memory.Span[7] ^= 0xFF;
            Expect.True(granted.Memory.Span[7] == mapping.Memory.Span[7], "a write through the mapping reaches the grant");
            Expect.True(granted.PeerUse == GrantPeerUse.Unknown, $"gntalloc does not say whether the peer maps (PeerUse {granted.PeerUse})");
            return $"refs {string.Join(',', granted.References.ToArray())} through IGrantTable";
        });

        checks.Run("interfaces.read-only-grant", () =>
        {
            IGrantTable grants = Grants();
            using IGrantedPages granted = grants.Grant(Dom0, 1, GrantAccess.ReadOnly);
            granted.Memory.Span.Fill(0x6B);
            var error = Expect.Throws<XenDeviceException>(() => grants.Map(Dom0, granted.References, GrantAccess.ReadWrite).Dispose());
            Expect.True(error.ErrorId == DeviceErrorIds.Xen.GrantMapFailed, $"a writable map of a read-only grant is {DeviceErrorIds.Xen.GrantMapFailed} (was {error.ErrorId})");
            using IMappedGrants mapping = grants.Map(Dom0, granted.References, GrantAccess.ReadOnly);
            Expect.True(mapping.Memory.Span.IndexOfAnyExcept((byte)0x6B) < 0 && mapping.Access == GrantAccess.ReadOnly, "the read-only map reads the page");
            return error.Message;
        });

        checks.Run("interfaces.end-while-mapped", () =>
        {
            IGrantTable grants = Grants();
            IGrantedPages granted = grants.Grant(Dom0, 1, GrantAccess.ReadWrite);
            granted.Memory.Span.Fill(0x3E);
            using IMappedGrants mapping = grants.Map(Dom0, granted.References, GrantAccess.ReadWrite);
            GrantEndResult result = granted.End();
            Expect.True(result == GrantEndResult.LeftToKernel, $"ending on real Xen leaves the page to the kernel (was {result})");
            Expect.True(granted.WhenReleasedAsync().Wait(EventWaitMilliseconds), "released as far as this side goes");
            Expect.True(mapping.Memory.Span.IndexOfAnyExcept((byte)0x3E) < 0, "the page stays whole while still mapped");
            mapping.Memory.Span.Fill(0x4F);
            return "the grant ended under its mapping; the page stays until the mapping goes";
        });

        checks.Run("interfaces.grant-copy", () =>
        {
            IGrantTable grants = Grants();
            using IGrantedPages granted = grants.Grant(Dom0, 1, GrantAccess.ReadWrite);
            new Random(13).NextBytes(granted.Memory.Span);
            var read = new byte[300];
            grants.CopyFromGrant(Dom0, granted.References[0], 1000, read);
            Expect.True(read.AsSpan().SequenceEqual(granted.Memory.Span.Slice(1000, 300)), "GRANT_COPY from the grant reads its bytes");
            grants.CopyToGrant(Dom0, granted.References[0], grants.PageSize - 5, "hello"u8);
            Expect.True(granted.Memory.Span[^5..].SequenceEqual("hello"u8), "GRANT_COPY into the grant writes its last bytes");
            Expect.Throws<ArgumentOutOfRangeException>(() => grants.CopyFromGrant(Dom0, granted.References[0], grants.PageSize - 4, new byte[5]));

            using IGrantedPages readOnly = grants.Grant(Dom0, 1, GrantAccess.ReadOnly);
            var error = Expect.Throws<XenDeviceException>(() => grants.CopyToGrant(Dom0, readOnly.References[0], 0, "no"u8));
            Expect.True(error.ErrorId == DeviceErrorIds.Xen.GrantCopyFailed, $"a copy into a read-only grant is {DeviceErrorIds.Xen.GrantCopyFailed} (was {error.ErrorId})");
            return $"copied from and into ref {granted.References[0]}; into a read-only grant: {error.Message}";
        });

        checks.Run("interfaces.events-both-ways", () =>
        {
            IEventChannels events = Events();
            using IEventChannel a = events.AllocateUnbound(Dom0);
            using IEventChannel b = events.BindInterdomain(Dom0, a.Port);
            Expect.True(b.Wait(EventWaitMilliseconds) >= 1, "the bound end starts with one event pending");
            Expect.True(a.Wait(0) == 0 && b.Wait(0) == 0, "nothing else pending");
            b.Notify();
            Expect.True(a.Wait(EventWaitMilliseconds) >= 1, "B's notify arrives at A");
            a.Notify();
            Expect.True(b.Wait(EventWaitMilliseconds) >= 1, "A's notify arrives at B");

            // Ten events sent while nobody waits coalesce. On real Xen the kernel masks a port from its first upcall
            // until the reader unmasks it, and a notify that lands in that window stays pending and is delivered once
            // at the unmask: so one wake-up, at most one more, then quiet (the first lab run saw the second one).
            for (int i = 0; i < 10; i++)
            {
                a.Notify();
            }

            Expect.True(b.Wait(EventWaitMilliseconds) >= 1, "the burst wakes B");
            int late = b.Wait(300);
            Expect.True(late <= 1, $"at most one late delivery after the unmask (got {late})");
            Expect.True(b.Wait(300) == 0, "then quiet");
            return $"ports {a.Port} and {b.Port}; burst of 10 woke B {1 + late} time(s)";
        });

        checks.Run("interfaces.events-async", () =>
        {
            IEventChannels events = Events();
            using IEventChannel a = events.AllocateUnbound(Dom0);
            using IEventChannel b = events.BindInterdomain(Dom0, a.Port);
            Expect.True(b.WaitAsync().AsTask().Wait(EventWaitMilliseconds), "the pending event at bind, awaited");
            ValueTask<int> waiting = a.WaitAsync();
            Thread.Sleep(50);
            Expect.True(!waiting.IsCompleted, "the async wait waits");
            b.Notify();
            Task<int> done = waiting.AsTask();
            Expect.True(done.Wait(EventWaitMilliseconds) && done.Result >= 1, "B's notify completes A's async wait");
            return "WaitAsync on the shared poll loop";
        });

        checks.Run("interfaces.events-ping-pong", () =>
        {
            IEventChannels events = Events();
            using IEventChannel a = events.AllocateUnbound(Dom0);
            using IEventChannel b = events.BindInterdomain(Dom0, a.Port);
            Expect.True(b.Wait(EventWaitMilliseconds) >= 1, "the pending event at bind");
            const int rounds = 500;
            var echo = Task.Factory.StartNew(() =>
            {
                for (int i = 0; i < rounds; i++)
                {
                    Expect.True(b.Wait(EventWaitMilliseconds) >= 1, $"round {i}: B woke");
                    b.Notify();
                }
            }, TaskCreationOptions.LongRunning);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < rounds; i++)
            {
                a.Notify();
                Expect.True(a.Wait(EventWaitMilliseconds) >= 1, $"round {i}: A got the echo");
            }

            Expect.True(echo.Wait(EventWaitMilliseconds), "the echo thread finished");
            echo.GetAwaiter().GetResult();
            return string.Create(CultureInfo.InvariantCulture, $"{rounds} round trips, {watch.Elapsed.TotalMicroseconds / rounds:F0} us each (spin then block, under QEMU)");
        }, TimeSpan.FromSeconds(120));
    }

    public void Dispose()
    {
        _grants?.Dispose();
        _events?.Dispose();
    }

    private IGrantTable Grants() => _grants ?? throw new SkipCheckException("the grant table did not open");

    private IEventChannels Events() => _events ?? throw new SkipCheckException("the event channel device did not open");
}
