using System.Runtime.CompilerServices;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Benchmarks.Ring;

/// <summary>The requests ring-echo's front sends, numbered from <see cref="NextId"/>; with a stop, the last one stops the back.</summary>
internal struct EchoRequests : IRingEntrySource<EchoMessage>
{
    /// <summary>The id of the next request.</summary>
    public ulong NextId;

    /// <summary>The id whose request carries <see cref="EchoMessage.Stop"/> (when <see cref="Stopping"/>).</summary>
    public ulong Last;

    /// <summary>Whether request <see cref="Last"/> stops the back.</summary>
    public bool Stopping;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Fill(ref EchoMessage entry)
    {
        ulong id = NextId++;
        entry.Id = id;
        entry.Value = id == Last && Stopping ? EchoMessage.Stop : EchoMessage.ValueOf(id);
    }
}
