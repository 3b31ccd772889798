// The ring roles of the peer program (see Program.cs for the others), one end of a blkif ring whose other end is
// domain 0 in the test process (RingExchange.cs holds the loops and the payload):
//
//   ring-back <socket> <domid> <port> <count> <ref>...   joins as <domid>, maps domain 0's grants <ref>... (the ring:
//                            one page a reference) and binds its unbound port <port>, prints "ready <domid>", answers
//                            <count> requests checking every one, prints "done <stats>" and waits to be killed.
//   ring-front <socket> <count> <pages> <in-flight>      joins, grants <pages> pages to domain 0 for the ring and
//                            allocates a port for it, prints "ready <domid> <port> <ref>...", sends <count> requests
//                            (<in-flight> outstanding) checking every response, prints "done <stats>" and waits to be
//                            killed.
using System.Globalization;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Loopback;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.XenLoopback.Peer.Rings;

/// <summary>The ring-front and ring-back roles.</summary>
internal static class RingRoles
{
    /// <summary>Plays the ring role <c>args[0]</c> names, if it is one.</summary>
    /// <returns>False when <c>args[0]</c> is not a ring role.</returns>
    public static bool TryRun(string[] args)
    {
        switch (args[0])
        {
            case "ring-back":
                Back(args[1], Parse<ushort>(args[2]), Parse<uint>(args[3]), Parse<ulong>(args[4]), args[5..].Select(Parse<uint>).ToArray());
                return true;
            case "ring-front":
                Front(args[1], Parse<ulong>(args[2]), Parse<int>(args[3]), Parse<int>(args[4]));
                return true;
            default:
                return false;
        }
    }

    private static void Back(string socket, ushort domainId, uint port, ulong count, uint[] references)
    {
        using LoopbackDomain domain = LoopbackDomain.Join(socket, domainId);
        using IMappedGrants pages = domain.Map(0, references, GrantAccess.ReadWrite);
        using IEventChannel channel = domain.BindInterdomain(0, port);
        var ring = new BackRing<BlkifRequest, BlkifResponse>(pages.Memory, $"blkif back (domain {domainId})");
        Console.WriteLine($"ready {domain.DomainId}");
        RingExchangeStats stats = RingExchange.RunBack(ring, channel, count);
        Console.WriteLine($"done {stats}");
        Thread.Sleep(Timeout.Infinite); // the channel stays open until the test has every response
    }

    private static void Front(string socket, ulong count, int pageCount, int inFlight)
    {
        using LoopbackDomain domain = LoopbackDomain.Join(socket);
        using IGrantedPages pages = domain.Grant(0, pageCount, GrantAccess.ReadWrite);
        var ring = new FrontRing<BlkifRequest, BlkifResponse>(pages.Memory, $"blkif front (domain {domain.DomainId})");
        using IEventChannel channel = domain.AllocateUnbound(0);
        Console.WriteLine($"ready {domain.DomainId} {channel.Port} {string.Join(' ', pages.References.ToArray())}");
        RingExchangeStats stats = RingExchange.RunFrontAsync(ring, channel, count, inFlight).GetAwaiter().GetResult();
        Console.WriteLine($"done {stats}");
        Thread.Sleep(Timeout.Infinite); // the grant stays until the test is done with it
    }

    private static T Parse<T>(string text)
        where T : IParsable<T> => T.Parse(text, CultureInfo.InvariantCulture);
}
