using System.Diagnostics;
using VirtualDevices.Xen;
using VirtualDevices.Xen.EventChannels;

namespace VirtualDevices.XenLab.Devices;

/// <summary>
/// Event channels between two opens of /dev/xen/evtchn in dom0: one allocates an unbound port for domain 0 (itself),
/// the other binds it interdomain, and events go both ways.
/// </summary>
internal sealed class EventChannelChecks(Checks checks) : IDisposable
{
    private const ushort Dom0 = 0;
    private const int EventWaitMilliseconds = 5_000;

    private EventChannelDevice? _a;
    private EventChannelDevice? _b;
    private uint _portA;
    private uint _portB;

    /// <summary>The two ends, once bound: <c>A</c> holds the unbound port, <c>B</c> the interdomain one.</summary>
    public (EventChannelDevice A, uint PortA, EventChannelDevice B, uint PortB)? Pair =>
        _a is not null && _b is not null && _portB != 0 ? (_a, _portA, _b, _portB) : null;

    public void Run()
    {
        checks.Run("devices.evtchn.open", () =>
        {
            _a = EventChannelDevice.Open();
            _b = EventChannelDevice.Open();
            return $"two opens of {_a.Path}";
        });

        checks.Run("devices.evtchn.bind-unbound", () =>
        {
            EventChannelDevice a = _a ?? throw new SkipCheckException("the device did not open");
            _portA = a.BindUnboundPort(Dom0);
            return $"unbound port {_portA} for domain 0";
        });

        checks.Run("devices.evtchn.bind-interdomain", () =>
        {
            EventChannelDevice b = _b ?? throw new SkipCheckException("the device did not open");
            if (_portA == 0)
            {
                throw new SkipCheckException("no unbound port");
            }

            _portB = b.BindInterdomain(Dom0, _portA);
            Expect.True(_portB != _portA, $"the interdomain port {_portB} differs from the unbound one {_portA}");

            // Xen marks a newly bound interdomain port pending (events sent to the unbound port before the bind would
            // otherwise be lost): exactly one event arrives on it, and nothing on the other end.
            ExpectEvent(b, _portB);
            ExpectQuiet(_a!, b);
            return $"port {_portB} bound to domain 0's port {_portA}, with the one event Xen sets at bind";
        });

        checks.Run("devices.evtchn.notify-receive", () =>
        {
            var (a, portA, b, portB) = Pair ?? throw new SkipCheckException("no bound pair");
            b.Notify(portB);
            ExpectEvent(a, portA);
            a.Notify(portA);
            ExpectEvent(b, portB);
            ExpectQuiet(a, b);
            return $"B's notify on {portB} arrived on A's {portA}, and A's on {portA} on B's {portB}";
        });

        checks.Run("devices.evtchn.pollable-descriptor", () =>
        {
            var (a, portA, b, portB) = Pair ?? throw new SkipCheckException("no bound pair");
            Expect.True(!Poll(a, 0), "A's descriptor is not readable before a notify");
            b.Notify(portB);
            Expect.True(Poll(a, EventWaitMilliseconds), "A's descriptor became readable after B's notify");
            ExpectEvent(a, portA);
            ExpectQuiet(a, b);
            return "POLLIN exactly while a port is pending";
        });

        checks.Run("devices.evtchn.masked-until-unmasked", () =>
        {
            var (a, portA, b, portB) = Pair ?? throw new SkipCheckException("no bound pair");
            b.Notify(portB);
            uint[] ports = new uint[4];
            int read = a.WaitPending(ports, EventWaitMilliseconds);
            Expect.True(read == 1 && ports[0] == portA, $"first event on {portA} (read {read}: {string.Join(',', ports.Take(read))})");

            // Not unmasked yet: a second notify stays pending in Xen and is not delivered...
            b.Notify(portB);
            read = a.WaitPending(ports, 300);
            Expect.True(read == 0, $"no event while the port is masked (read {read})");

            // ...until the port is unmasked, when it arrives once.
            a.Unmask(portA);
            ExpectEvent(a, portA);
            ExpectQuiet(a, b);
            return "a fired port stays masked until written back, and the event sent meanwhile arrives at unmask";
        });

        checks.Run("devices.evtchn.reset", () =>
        {
            var (a, portA, b, portB) = Pair ?? throw new SkipCheckException("no bound pair");
            b.Notify(portB);
            Expect.True(Poll(a, EventWaitMilliseconds), "A's descriptor became readable after B's notify");

            // RESET empties the ring: the port that fired is gone, and stays masked until written back.
            a.Reset();
            Expect.True(!Poll(a, 0), "A's descriptor is not readable after the reset");
            a.Unmask(portA);
            ExpectQuiet(a, b);
            b.Notify(portB);
            ExpectEvent(a, portA);
            ExpectQuiet(a, b);
            return "a queued port dropped by RESET; events flow again once it is unmasked";
        });

        checks.Run("devices.evtchn.not-bound-here", () =>
        {
            var (a, _, b, portB) = Pair ?? throw new SkipCheckException("no bound pair");
            var error = Expect.Throws<XenDeviceException>(() => a.Notify(portB));
            Expect.True(error.ErrorId == DeviceErrorIds.Xen.EventChannelNotBound, $"id {error.ErrorId} is {DeviceErrorIds.Xen.EventChannelNotBound}");
            ExpectQuiet(a, b);
            return $"{error.ErrorId}: {error.Message}";
        });

        checks.Run("devices.evtchn.ping-pong", () =>
        {
            var (a, portA, b, portB) = Pair ?? throw new SkipCheckException("no bound pair");
            const int rounds = 500;
            int echoed = 0;
            var echo = Task.Factory.StartNew(() =>
            {
                uint[] ports = new uint[4];
                for (int i = 0; i < rounds; i++, echoed++)
                {
                    int read = b.WaitPending(ports, EventWaitMilliseconds);
                    Expect.True(read == 1 && ports[0] == portB, $"round {i}: B got its port (read {read})");
                    b.Unmask(portB);
                    b.Notify(portB);
                }
            }, TaskCreationOptions.LongRunning);

            var watch = Stopwatch.StartNew();
            uint[] mine = new uint[4];
            for (int i = 0; i < rounds; i++)
            {
                a.Notify(portA);
                int read = a.WaitPending(mine, EventWaitMilliseconds);
                Expect.True(read == 1 && mine[0] == portA, $"round {i}: A got the echo (read {read}; B echoed {Volatile.Read(ref echoed)} times, its thread {echo.Status})");
                a.Unmask(portA);
            }

            watch.Stop();
            Expect.True(echo.Wait(EventWaitMilliseconds), "the echo thread finished");
            echo.GetAwaiter().GetResult();
            ExpectQuiet(a, b);
            return $"{rounds} round trips, {watch.Elapsed.TotalMicroseconds / rounds:F0} us each (under QEMU's emulation)";
        }, TimeSpan.FromSeconds(120));

        checks.Run("devices.evtchn.unbind", () =>
        {
            var (a, portA, b, portB) = Pair ?? throw new SkipCheckException("no bound pair");
            b.Unbind(portB);
            var error = Expect.Throws<XenDeviceException>(() => b.Notify(portB));
            Expect.True(error.ErrorId == DeviceErrorIds.Xen.EventChannelNotBound, $"a notify after unbind is {DeviceErrorIds.Xen.EventChannelNotBound} (was {error.ErrorId})");

            // A's port is back to unbound: a new interdomain bind to it works, and events flow again.
            _portB = b.BindInterdomain(Dom0, portA);
            ExpectEvent(b, _portB);
            b.Notify(_portB);
            ExpectEvent(a, portA);
            ExpectQuiet(a, b);
            return $"port {portB} unbound; A's port {portA} bound again as {_portB}";
        });
    }

    public void Dispose()
    {
        _a?.Dispose();
        _b?.Dispose();
    }

    /// <summary>Waits for one event on <paramref name="port"/> of <paramref name="device"/>, then unmasks it.</summary>
    public static void ExpectEvent(EventChannelDevice device, uint port)
    {
        uint[] ports = new uint[8];
        int read = device.WaitPending(ports, EventWaitMilliseconds);
        Expect.True(read > 0, $"an event on port {port} within {EventWaitMilliseconds} ms");
        Expect.True(ports.Take(read).All(p => p == port), $"only port {port} fired (got {string.Join(',', ports.Take(read))})");
        device.Unmask(port);
    }

    /// <summary>
    /// Fails when either device has an event pending within 200 ms: every check leaves both quiet. Stray ports are
    /// unmasked again, so that one check's failure does not leave a port dead for the next.
    /// </summary>
    public static void ExpectQuiet(EventChannelDevice a, EventChannelDevice b)
    {
        uint[] ports = new uint[8];
        int onA = a.WaitPending(ports, 200);
        string seenA = string.Join(',', ports.Take(onA));
        a.Unmask(ports.AsSpan(0, onA));
        int onB = b.WaitPending(ports, 200);
        string seenB = string.Join(',', ports.Take(onB));
        b.Unmask(ports.AsSpan(0, onB));
        Expect.True(onA == 0 && onB == 0, $"no stray event afterwards (A had [{seenA}], B had [{seenB}])");
    }

    private static unsafe bool Poll(EventChannelDevice device, int timeoutMilliseconds)
    {
        bool added = false;
        device.Descriptor.DangerousAddRef(ref added);
        try
        {
            var fd = new Interop.Unix.PollFd { Fd = device.Descriptor.Fd, Events = Interop.Unix.POLLIN };
            int ready = Interop.Unix.Poll(&fd, 1, timeoutMilliseconds);
            return ready == 1 && (fd.ReturnedEvents & Interop.Unix.POLLIN) != 0;
        }
        finally
        {
            device.Descriptor.DangerousRelease();
        }
    }
}
