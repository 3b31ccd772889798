// A loopback domain in its own process, for the multi-process tests of the loopback hypervisor. It joins the
// hypervisor at the socket given, then plays a role and reports on stdout, one line per step:
//
//   echo <socket> <rounds>   grants 2 pages read-write to domain 0 and allocates a port for it, prints
//                            "ready <domid> <port> <ref0> <ref1>"; then, <rounds> times: waits for an event, checks
//                            that page 0 holds the round's pattern (written by domain 0), writes the round's answer
//                            into page 1, notifies. Prints "done <rounds>" and waits to be killed.
//   storm <socket> <port>    binds domain 0's unbound port <port>, prints "ready <domid>", then notifies as fast as it
//                            can until killed.
//   ring-back, ring-front    one end of a blkif ring with domain 0 (Rings/RingRoles.cs).
//   xenstore <socket>        speaks xenstore over the domain's ring (XenstorePeer.cs): prints "ready <domid> <name>",
//                            answers dom0's data/ping in data/pong with "pong <value>", then waits to be killed.
//
// Any failure prints "error <type>: <message>" and exits with 1.
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Loopback;

try
{
    if (VirtualDevices.XenLoopback.Peer.Rings.RingRoles.TryRun(args))
    {
        return 0;
    }

    string role = args[0];
    using LoopbackDomain domain = LoopbackDomain.Join(args[1]);
    if (role == "echo")
    {
        int rounds = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
        using IGrantedPages pages = domain.Grant(0, 2, GrantAccess.ReadWrite);
        using IEventChannel channel = domain.AllocateUnbound(0);
        Console.WriteLine($"ready {domain.DomainId} {channel.Port} {pages.References[0]} {pages.References[1]}");
        int page = domain.PageSize;
        for (int round = 1; round <= rounds; round++)
        {
            // Waits until page 0 holds this round's pattern: an event means "look", not "it is there" (the first is
            // the one pending from the bind).
            while (pages.Memory.Span[0] != (byte)round)
            {
                channel.Wait(30_000);
            }

            Span<byte> request = pages.Memory.Span[..page];
            for (int i = 0; i < page; i++)
            {
                if (request[i] != (byte)(round + i))
                {
                    throw new InvalidDataException($"round {round}: byte {i} of page 0 is {request[i]}, not {(byte)(round + i)}");
                }
            }

            Span<byte> answer = pages.Memory.Span.Slice(page, page);
            for (int i = page - 1; i >= 0; i--)
            {
                answer[i] = (byte)(round * 3 + i);
            }

            channel.Notify();
        }

        Console.WriteLine($"done {rounds}");
        Thread.Sleep(Timeout.Infinite);
    }
    else if (role == "storm")
    {
        uint port = uint.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
        using IEventChannel channel = domain.BindInterdomain(0, port);
        Console.WriteLine($"ready {domain.DomainId}");
        while (true)
        {
            channel.Notify();
        }
    }
    else if (role == "xenstore")
    {
        VirtualDevices.XenLoopback.Peer.XenstorePeer.Run(domain);
    }
    else
    {
        throw new ArgumentException($"unknown role {role}");
    }

    return 0;
}
catch (Exception e)
{
    Console.WriteLine($"error {e.GetType().Name}: {e.Message}");
    return 1;
}
