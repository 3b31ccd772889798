using System.Net;
using VirtualDevices.Network;
using VirtualDevices.Network.Switch;
using VirtualDevices.Network.Tap;

namespace VirtualDevices.Tests.Network.Tap;

/// <summary>
/// The switch with the Linux kernel on two of its ports: a TAP in each of two namespaces (10.R.R.1 and 10.R.R.2 on
/// one /24), joined only by our switch, ping each other; a third port (an in-memory link whose far end we read)
/// counts what it is sent, which after learning must be no unicast at all.
/// </summary>
public sealed class SwitchKernelTests
{
    [RootFact(Timeout = 120_000, Needs = "ping")]
    public async Task TwoNamespacesPingThroughTheSwitchAndAThirdPortSeesNoUnicastFlooding()
    {
        await using TestNamespace left = await TestNamespace.CreateAsync();
        await using TestNamespace right = await TestNamespace.CreateAsync();
        string subnet = TestNamespace.RandomSubnet();
        await using TapDevice tapLeft = TapDevice.Create(new VirtualInterfaceOptions { Namespace = left.Name, HostAddress = IPAddress.Parse(subnet + ".1") });
        await using TapDevice tapRight = TapDevice.Create(new VirtualInterfaceOptions { Namespace = right.Name, HostAddress = IPAddress.Parse(subnet + ".2") });
        var (observer, thirdPort) = MemoryNetworkDevice.CreatePair();
        await using (observer)
        await using (thirdPort)
        await using (var sw = new NetworkSwitch("sw-kernel"))
        {
            using FrameReader seen = observer.OpenListener();
            SwitchPort leftPort = sw.Connect(tapLeft);
            SwitchPort rightPort = sw.Connect(tapRight);
            SwitchPort third = sw.Connect(thirdPort);

            string first = await left.ExecAsync("ping", "-c", "3", "-i", "0.2", "-W", "5", subnet + ".2");
            Assert.Contains("3 received", first, StringComparison.Ordinal);
            string back = await right.ExecAsync("ping", "-c", "3", "-i", "0.2", "-W", "5", subnet + ".1");
            Assert.Contains("3 received", back, StringComparison.Ordinal);

            // Both kernels' MACs were learned from their first frames (the ARP request and reply).
            IReadOnlyList<MacTableEntry> table = sw.GetAddressTable();
            Assert.Contains(table, e => e.MacAddress == tapLeft.MacAddress && e.Port == leftPort);
            Assert.Contains(table, e => e.MacAddress == tapRight.MacAddress && e.Port == rightPort);

            // Everything the third port was sent was flooded, and none of it was unicast: only the ARP broadcast.
            int unicast = 0, broadcast = 0;
            while (seen.TryRead(out FrameLease frame))
            {
                using (frame)
                {
                    if (TestFrames.Destination(frame.Span).IsMulticast)
                    {
                        broadcast++;
                    }
                    else
                    {
                        unicast++;
                    }
                }
            }

            Assert.Equal(0, unicast);
            Assert.True(broadcast >= 1, "the first ARP request was flooded to the third port");
            Assert.Equal(broadcast, third.TxFrames);
            Assert.Equal(third.TxFrames, third.Flooded);

            // Six echo requests and six replies crossed, each to its learned port.
            Assert.True(leftPort.TxFrames >= 6 && rightPort.TxFrames >= 6, $"left got {leftPort.TxFrames}, right {rightPort.TxFrames}");
            Assert.Equal(0, leftPort.TxDrops + rightPort.TxDrops + third.TxDrops);
        }
    }
}
