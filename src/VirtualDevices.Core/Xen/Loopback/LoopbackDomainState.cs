using System.Net.Sockets;
using VirtualDevices.Interop;

namespace VirtualDevices.Xen.Loopback;

/// <summary>What the loopback hypervisor keeps about one joined domain: its connection, arena, grants and ports.</summary>
internal sealed class LoopbackDomainState(ushort id, Socket connection, SafeFileDescriptor arena, SafeFileDescriptor arenaReadOnly, int arenaPages)
{
    /// <summary>
    /// The first reference handed out: Linux reserves references 0-7 of a guest's table (GNTTAB_NR_RESERVED_ENTRIES;
    /// the toolstack's xenstore and console pages), so a driver never sees them; we keep the same numbering.
    /// </summary>
    public const uint FirstReference = 8;

    public ushort Id { get; } = id;

    public Socket Connection { get; } = connection;

    /// <summary>The arena memfd, read-write: passed to domains that map a grant writable.</summary>
    public SafeFileDescriptor Arena { get; } = arena;

    /// <summary>The arena reopened read-only (through /proc/self/fd): passed for read-only maps, so they cannot be made writable.</summary>
    public SafeFileDescriptor ArenaReadOnly { get; } = arenaReadOnly;

    public int ArenaPages { get; } = arenaPages;

    /// <summary>The domain's grants by reference.</summary>
    public Dictionary<uint, LoopbackGrantRecord> Grants { get; } = [];

    /// <summary>The domain's ports by number.</summary>
    public Dictionary<uint, LoopbackPortRecord> Ports { get; } = [];

    public uint NextReference { get; set; } = FirstReference;

    public uint NextPort { get; set; } = 1;

    /// <summary>The port of the domain's xenstore ring (bound by the xenstore in dom0 at INTRODUCE); 0 without xenstore.</summary>
    public uint XenstorePort { get; set; }

    /// <summary>The arena frame of the domain's xenstore page (granted to dom0 as reference 1).</summary>
    public uint XenstoreFrame { get; set; }

    /// <summary>Set when the domain is being dropped: nothing more is sent to it.</summary>
    public bool Gone { get; set; }
}
