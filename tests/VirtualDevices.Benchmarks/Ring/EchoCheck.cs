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
    // a call per response). The throw is here, the exception made by a call: a call the JIT thinks may return keeps
    // everything live across it, and the loop then held its index, mask and bounds on the stack (9 loads and stores
    // per response more than with the throw in the loop's own code).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Take(EchoMessage entry)
    {
        ulong want = Consumed == Last && Stopping ? EchoMessage.Stop : EchoMessage.ValueOf(Consumed);
        if (entry.Id != Consumed || entry.Value != want)
        {
            throw Wrong(Consumed);
        }

        Consumed++;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static InvalidOperationException Wrong(ulong id) => new($"ring-echo: wrong echo for #{id}");
}
