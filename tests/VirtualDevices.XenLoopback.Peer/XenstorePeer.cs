using VirtualDevices.Xen.Loopback;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.XenLoopback.Peer;

/// <summary>
/// The <c>xenstore</c> role: the domain speaks xenstore over its ring (the hypervisor must run xenstore). Reads its
/// name, writes <c>data/hello</c>, prints "ready &lt;domid&gt; &lt;name&gt;"; waits for dom0 to write
/// <c>data/ping</c>, answers the value in <c>data/pong</c> and prints "pong &lt;value&gt;"; then waits to be killed.
/// </summary>
internal static class XenstorePeer
{
    public static void Run(LoopbackDomain domain) => RunAsync(domain).GetAwaiter().GetResult();

    private static async Task RunAsync(LoopbackDomain domain)
    {
        await using XenstoreClient xs = domain.ConnectXenstore();
        string name = await xs.ReadStringAsync("name");
        await xs.WriteAsync("data/hello", $"from {domain.DomainId}");
        Console.WriteLine($"ready {domain.DomainId} {name}");
        byte[]? ping = await xs.WaitForAsync("data/ping", value => value is not null, TimeSpan.FromSeconds(60));
        string value = System.Text.Encoding.UTF8.GetString(ping!);
        await xs.WriteAsync("data/pong", value);
        Console.WriteLine($"pong {value}");
        await Task.Delay(Timeout.Infinite);
    }
}
