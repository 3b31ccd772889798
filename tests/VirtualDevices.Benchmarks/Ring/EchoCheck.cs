using System.Runtime.CompilerServices;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Benchmarks.Ring;

/// <summary>Checks each echo ring-echo's front takes against the request it answers (in order, from <see cref="Consumed"/>).</summary>
internal struct EchoCheck : IRingEntrySink<EchoMessage>
{
    /// <summary>The id of the next echo expected.</summary>
    public ulong Consumed;

    /// <summary>The id whose request carried <see cref="EchoMessage.Stop"/> (when <see cref="Stopping"/>).</summary>
    public ulong Last;

    /// <summary>Whether request <see cref="Last"/> stops the back.</summary>
    public bool Stopping;

    // Small enough to inline into the ring's loop: the message is made out of line (with it inline, perf showed Take as
    // a call per response).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Take(EchoMessage entry)
    {
        ulong want = Consumed == Last && Stopping ? EchoMessage.Stop : EchoMessage.ValueOf(Consumed);
        if (entry.Id != Consumed || entry.Value != want)
        {
            Wrong(Consumed);
        }

        Consumed++;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Wrong(ulong id) => throw new InvalidOperationException($"ring-echo: wrong echo for #{id}");
}
