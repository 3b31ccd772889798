using System.Net;
using System.Text;
using VirtualDevices.Network;
using VirtualDevices.Network.Tap;

namespace VirtualDevices.Tests.Network.Tap;

/// <summary>
/// Shared mode's NAT, end to end, all inside two namespaces the test makes: "router" holds our TAP (shared, the
/// guest's link 10.P.Q.0/24) and an uplink veth (10.S.T.1/24) to "outside" (10.S.T.2/24), which has no route back to
/// the guest's link. A ping from the guest (played through the device) to the outside is answered only if the router
/// masquerades it; the reply comes back through the TAP, translated back to the guest's address.
/// </summary>
public sealed class SharedModeKernelTests
{
    [RootFact(Timeout = 90_000, Needs = "nft")]
    public async Task AGuestBehindASharedTapReachesTheOutsideThroughTheNat()
    {
        await using TestNamespace router = await TestNamespace.CreateAsync();
        await using TestNamespace outside = await TestNamespace.CreateAsync();
        string link = TestNamespace.RandomSubnet(), uplink = TestNamespace.RandomSubnet();
        while (uplink == link)
        {
            uplink = TestNamespace.RandomSubnet();
        }

        await router.ExecAsync("ip", "link", "add", "vdup0", "type", "veth", "peer", "name", "vdout0", "netns", outside.Name);
        await router.ExecAsync("ip", "addr", "add", uplink + ".1/24", "dev", "vdup0");
        await router.ExecAsync("ip", "link", "set", "vdup0", "up");
        await outside.ExecAsync("ip", "addr", "add", uplink + ".2/24", "dev", "vdout0");
        await outside.ExecAsync("ip", "link", "set", "vdout0", "up");

        IPAddress gateway = IPAddress.Parse(link + ".1"), guest = IPAddress.Parse(link + ".2"), far = IPAddress.Parse(uplink + ".2");
        MacAddress guestMac = MacAddress.CreateRandom();
        await using TapDevice tap = TapDevice.Create(new VirtualInterfaceOptions
        {
            Namespace = router.Name, Mode = NetworkInterfaceMode.Shared, HostAddress = gateway, PrefixLength = 24,
        });
        using FrameReader listener = tap.OpenListener();
        byte[] payload = Encoding.ASCII.GetBytes("through the nat");

        await tap.WriteAsync(TestFrames.IcmpEcho(tap.MacAddress, guestMac, guest, far, 0x4e41, 1, payload));

        // The router asks who has the guest (to deliver the translated reply); the guest answers; the reply follows.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        (byte Protocol, IPAddress Source, IPAddress Destination, byte[] Payload)? reply = null;
        while (reply is null && await listener.WaitToReadAsync(cts.Token))
        {
            while (listener.TryRead(out FrameLease lease))
            {
                byte[] frame;
                using (lease)
                {
                    frame = lease.Span.ToArray();
                }

                if (TestFrames.ParseArp(frame) is { Operation: 1 } who && who.TargetIp.Equals(guest))
                {
                    await tap.WriteAsync(TestFrames.ArpReply(guestMac, guest, tap.MacAddress, gateway));
                }
                else if (TestFrames.ParseIPv4(frame) is { Protocol: 1 } ip && ip.Payload[0] == 0)
                {
                    reply = ip;
                }
            }
        }

        Assert.NotNull(reply);
        Assert.Equal((far, guest), (reply.Value.Source, reply.Value.Destination)); // translated back to the guest
        Assert.Equal(payload, reply.Value.Payload[8..]);

        // The outside has no route to the guest's link: it answered the router's uplink address, which only the
        // masquerade made the source. It learned that address, never the guest's.
        string neighbours = await outside.ExecAsync("ip", "neigh", "show", "dev", "vdout0");
        Assert.Contains(uplink + ".1 ", neighbours, StringComparison.Ordinal);
        Assert.DoesNotContain(link + ".", neighbours, StringComparison.Ordinal);
    }
}
