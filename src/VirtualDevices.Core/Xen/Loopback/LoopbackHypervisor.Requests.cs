using System.Net.Sockets;
using VirtualDevices.Interop;

namespace VirtualDevices.Xen.Loopback;

/// <summary>The requests of the loopback hypervisor, each handled under its lock, and what a domain's departure undoes.</summary>
public sealed partial class LoopbackHypervisor
{
    /// <summary>The largest arena a domain may bring: 65536 pages, 256 MiB (sparse memory until touched).</summary>
    private const uint MaxArenaPages = 65536;

    private LoopbackMessage Handle(ref LoopbackDomainState? domain, Socket socket, LoopbackMessage message)
    {
        LoopbackMessageType type = message.Type;
        if (type == LoopbackMessageType.Join)
        {
            return domain is null ? Join(ref domain, socket, message) : Refuse(type, LoopbackStatus.ProtocolError);
        }

        if (domain is null)
        {
            return Refuse(type, LoopbackStatus.NotJoined);
        }

        return type switch
        {
            LoopbackMessageType.Grant => Grant(domain, message),
            LoopbackMessageType.End => End(domain, message),
            LoopbackMessageType.Map => Map(domain, message),
            LoopbackMessageType.Unmap => Unmap(domain, message),
            LoopbackMessageType.GrantStatus => GrantStatus(domain, message),
            LoopbackMessageType.AllocateUnbound => AllocateUnbound(domain, message),
            LoopbackMessageType.BindInterdomain => BindInterdomain(domain, message),
            LoopbackMessageType.Unbind => Unbind(domain, message),
            LoopbackMessageType.PeerOf => PeerOf(domain, message),
            _ => Refuse(LoopbackMessageType.Reply, LoopbackStatus.ProtocolError),
        };
    }

    private LoopbackMessage Refuse(LoopbackMessageType type, LoopbackStatus status)
    {
        if (status == LoopbackStatus.ProtocolError)
        {
            Interlocked.Increment(ref _protocolErrors);
        }

        return Failure(type, status);
    }

    private LoopbackMessage Join(ref LoopbackDomainState? domain, Socket socket, LoopbackMessage message)
    {
        uint pages = message.Arg1;
        if (pages == 0 || pages > MaxArenaPages || message.Descriptor is null)
        {
            return Refuse(message.Type, LoopbackStatus.ProtocolError);
        }

        ushort id;
        if (message.Arg0 == LoopbackMessage.AnyDomain)
        {
            id = 1;
            while (_domains.ContainsKey(id))
            {
                id++;
            }

            if (id > MaxDomainId)
            {
                return Refuse(message.Type, LoopbackStatus.DomainIdInUse);
            }
        }
        else if (message.Arg0 > MaxDomainId)
        {
            return Refuse(message.Type, LoopbackStatus.ProtocolError);
        }
        else
        {
            id = (ushort)message.Arg0;
            if (_domains.ContainsKey(id))
            {
                return Refuse(message.Type, LoopbackStatus.DomainIdInUse);
            }
        }

        SafeFileDescriptor arena = message.TakeDescriptor()!;
        long size = Unix.LSeek(arena, 0, Unix.SEEK_END);
        int seals = Unix.Fcntl(arena, Unix.F_GET_SEALS, 0);
        if (size < (long)pages * PageSize || seals < 0 || (seals & Unix.F_SEAL_SHRINK) == 0)
        {
            // Not a memfd, smaller than it says, or one that could shrink later: a domain mapping its pages would
            // meet SIGBUS when the granter truncated it.
            arena.Dispose();
            return Refuse(message.Type, LoopbackStatus.ProtocolError);
        }

        // A read-only open file description of the same memfd: what a read-only map gets, so that even the mapping
        // domain's own code cannot map it writable (mmap with PROT_WRITE and MAP_SHARED fails with EACCES).
        bool added = false;
        arena.DangerousAddRef(ref added);
        SafeFileDescriptor readOnly;
        try
        {
            readOnly = Unix.Open($"/proc/self/fd/{arena.Fd}", Unix.OpenFlags.O_RDONLY | Unix.OpenFlags.O_CLOEXEC, 0);
        }
        finally
        {
            arena.DangerousRelease();
        }

        if (readOnly.IsInvalid)
        {
            readOnly.Dispose();
            arena.Dispose();
            return Refuse(message.Type, LoopbackStatus.SystemCallFailed);
        }

        domain = new LoopbackDomainState(id, socket, arena, readOnly, (int)pages);
        _domains.Add(id, domain);
        if (_xenstore is null || id == LoopbackXenstore.DomainId)
        {
            return new LoopbackMessage(message.Type | LoopbackMessageType.Reply, arg0: id);
        }

        // The toolstack's share of a guest's creation on Xen: its xenstore page (here the arena's last frame, so
        // grants keep taking frames from 0 up), granted to the xenstore domain at the reserved reference, and an
        // unbound port for it, whose eventfd the guest gets with the reply (start_info's store_mfn and store_evtchn).
        SafeFileDescriptor incoming = Unix.EventFd(0, Unix.EFD_CLOEXEC | Unix.EFD_NONBLOCK);
        if (incoming.IsInvalid)
        {
            incoming.Dispose();
            Drop(domain);
            domain = null;
            return Refuse(message.Type, LoopbackStatus.SystemCallFailed);
        }

        uint frame = pages - 1;
        uint reference = VirtualDevices.Xen.Xenstore.Protocol.XenstoreRingLayout.ReservedGrantReference;
        domain.Grants.Add(reference, new LoopbackGrantRecord(reference, id, LoopbackXenstore.DomainId, frame, readOnly: false));
        uint port = NextPort(domain);
        domain.Ports.Add(port, new LoopbackPortRecord(id, port, LoopbackXenstore.DomainId, incoming));
        domain.XenstoreFrame = frame;
        domain.XenstorePort = port;
        return new LoopbackMessage(message.Type | LoopbackMessageType.Reply, arg0: id, arg1: port, arg2: frame, descriptor: incoming, ownsDescriptor: false);
    }

    private LoopbackMessage Grant(LoopbackDomainState granter, LoopbackMessage message)
    {
        uint[] frames = message.Items;
        if (frames.Length == 0 || message.Arg0 > MaxDomainId || message.Arg1 > 1 || frames.Any(f => f >= granter.ArenaPages))
        {
            return Refuse(message.Type, LoopbackStatus.ProtocolError);
        }

        uint[] references = new uint[frames.Length];
        for (int i = 0; i < frames.Length; i++)
        {
            uint reference = granter.NextReference;
            while (reference < LoopbackDomainState.FirstReference || granter.Grants.ContainsKey(reference))
            {
                reference++;
            }

            granter.NextReference = reference + 1;
            granter.Grants.Add(reference, new LoopbackGrantRecord(reference, granter.Id, (ushort)message.Arg0, frames[i], message.Arg1 == 1));
            references[i] = reference;
        }

        return new LoopbackMessage(message.Type | LoopbackMessageType.Reply, items: references);
    }

    private LoopbackMessage End(LoopbackDomainState granter, LoopbackMessage message)
    {
        uint[] references = message.Items;
        if (references.Length == 0)
        {
            return Refuse(message.Type, LoopbackStatus.ProtocolError);
        }

        if (references.Any(r => !granter.Grants.ContainsKey(r)))
        {
            return Refuse(message.Type, LoopbackStatus.GrantNotFound);
        }

        uint[] results = new uint[references.Length];
        for (int i = 0; i < references.Length; i++)
        {
            if (!granter.Grants.TryGetValue(references[i], out LoopbackGrantRecord? grant))
            {
                continue; // listed twice: ended on its first mention
            }

            if (grant.MapCount == 0)
            {
                granter.Grants.Remove(grant.Reference);
            }
            else
            {
                grant.Ending = true;
                results[i] = 1;
            }
        }

        return new LoopbackMessage(message.Type | LoopbackMessageType.Reply, items: results);
    }

    private LoopbackMessage Map(LoopbackDomainState mapper, LoopbackMessage message)
    {
        uint[] references = message.Items;
        if (references.Length == 0 || message.Arg1 > 1 || message.Arg0 > MaxDomainId)
        {
            return Refuse(message.Type, LoopbackStatus.ProtocolError);
        }

        if (!_domains.TryGetValue((ushort)message.Arg0, out LoopbackDomainState? granter))
        {
            return Refuse(message.Type, LoopbackStatus.DomainNotFound);
        }

        bool writable = message.Arg1 == 1;
        var grants = new LoopbackGrantRecord[references.Length];
        for (int i = 0; i < references.Length; i++)
        {
            if (!granter.Grants.TryGetValue(references[i], out LoopbackGrantRecord? grant) || grant.Grantee != mapper.Id || grant.Ending)
            {
                return Refuse(message.Type, LoopbackStatus.GrantNotFound);
            }

            if (writable && grant.ReadOnly)
            {
                return Refuse(message.Type, LoopbackStatus.GrantReadOnly);
            }

            grants[i] = grant;
        }

        foreach (LoopbackGrantRecord grant in grants)
        {
            grant.MapCount++;
        }

        return new LoopbackMessage(message.Type | LoopbackMessageType.Reply, items: grants.Select(g => g.Frame).ToArray(),
            descriptor: writable ? granter.Arena : granter.ArenaReadOnly, ownsDescriptor: false);
    }

    private LoopbackMessage Unmap(LoopbackDomainState mapper, LoopbackMessage message)
    {
        uint[] references = message.Items;
        if (references.Length == 0 || message.Arg0 > MaxDomainId)
        {
            return Refuse(message.Type, LoopbackStatus.ProtocolError);
        }

        if (!_domains.TryGetValue((ushort)message.Arg0, out LoopbackDomainState? granter))
        {
            return Refuse(message.Type, LoopbackStatus.DomainNotFound);
        }

        // Checked whole first: a list with one bad reference changes nothing.
        var counts = new Dictionary<uint, int>();
        foreach (uint reference in references)
        {
            counts[reference] = counts.GetValueOrDefault(reference) + 1;
        }

        foreach ((uint reference, int count) in counts)
        {
            if (!granter.Grants.TryGetValue(reference, out LoopbackGrantRecord? grant) || grant.Grantee != mapper.Id || grant.MapCount < count)
            {
                return Refuse(message.Type, LoopbackStatus.GrantNotFound);
            }
        }

        var released = new List<uint>();
        foreach (uint reference in references)
        {
            LoopbackGrantRecord grant = granter.Grants[reference];
            grant.MapCount--;
            if (grant.Ending && grant.MapCount == 0)
            {
                granter.Grants.Remove(reference);
                released.Add(reference);
            }
        }

        TellReleased(granter, released);
        return new LoopbackMessage(message.Type | LoopbackMessageType.Reply);
    }

    private LoopbackMessage GrantStatus(LoopbackDomainState granter, LoopbackMessage message)
    {
        uint[] counts = new uint[message.Items.Length];
        for (int i = 0; i < counts.Length; i++)
        {
            if (!granter.Grants.TryGetValue(message.Items[i], out LoopbackGrantRecord? grant))
            {
                return Refuse(message.Type, LoopbackStatus.GrantNotFound);
            }

            counts[i] = (uint)grant.MapCount;
        }

        return new LoopbackMessage(message.Type | LoopbackMessageType.Reply, items: counts);
    }

    private LoopbackMessage AllocateUnbound(LoopbackDomainState domain, LoopbackMessage message)
    {
        if (message.Arg0 > MaxDomainId || message.Descriptor is null)
        {
            return Refuse(message.Type, LoopbackStatus.ProtocolError);
        }

        uint port = NextPort(domain);
        domain.Ports.Add(port, new LoopbackPortRecord(domain.Id, port, (ushort)message.Arg0, message.TakeDescriptor()!));
        return new LoopbackMessage(message.Type | LoopbackMessageType.Reply, arg0: port);
    }

    private LoopbackMessage BindInterdomain(LoopbackDomainState domain, LoopbackMessage message)
    {
        if (message.Arg0 > MaxDomainId || message.Descriptor is null)
        {
            return Refuse(message.Type, LoopbackStatus.ProtocolError);
        }

        if (!_domains.TryGetValue((ushort)message.Arg0, out LoopbackDomainState? remote))
        {
            return Refuse(message.Type, LoopbackStatus.DomainNotFound);
        }

        if (!remote.Ports.TryGetValue(message.Arg1, out LoopbackPortRecord? remotePort) || remotePort.RemotePort != 0 || remotePort.RemoteDomain != domain.Id)
        {
            return Refuse(message.Type, LoopbackStatus.PortNotFound);
        }

        uint port = NextPort(domain);
        var record = new LoopbackPortRecord(domain.Id, port, remote.Id, message.TakeDescriptor()!) { RemotePort = remotePort.Port };
        domain.Ports.Add(port, record);
        remotePort.RemotePort = port;
        Tell(remote, new LoopbackMessage(LoopbackMessageType.ChannelBound, arg0: remotePort.Port, arg1: port, descriptor: record.Incoming, ownsDescriptor: false));
        return new LoopbackMessage(message.Type | LoopbackMessageType.Reply, arg0: port, descriptor: remotePort.Incoming, ownsDescriptor: false);
    }

    private LoopbackMessage PeerOf(LoopbackDomainState domain, LoopbackMessage message)
    {
        if (!domain.Ports.TryGetValue(message.Arg0, out LoopbackPortRecord? port))
        {
            return Refuse(message.Type, LoopbackStatus.PortNotFound);
        }

        if (port.RemotePort == 0 || !_domains.TryGetValue(port.RemoteDomain, out LoopbackDomainState? remote)
            || !remote.Ports.TryGetValue(port.RemotePort, out LoopbackPortRecord? remotePort))
        {
            return new LoopbackMessage(message.Type | LoopbackMessageType.Reply, arg0: 0);
        }

        return new LoopbackMessage(message.Type | LoopbackMessageType.Reply, arg0: 1, descriptor: remotePort.Incoming, ownsDescriptor: false);
    }

    private LoopbackMessage Unbind(LoopbackDomainState domain, LoopbackMessage message)
    {
        if (!domain.Ports.TryGetValue(message.Arg0, out LoopbackPortRecord? port))
        {
            return Refuse(message.Type, LoopbackStatus.PortNotFound);
        }

        Close(domain, port);
        return new LoopbackMessage(message.Type | LoopbackMessageType.Reply);
    }

    private static uint NextPort(LoopbackDomainState domain)
    {
        uint port = domain.NextPort;
        while (port == 0 || domain.Ports.ContainsKey(port))
        {
            port++;
        }

        domain.NextPort = port + 1;
        return port;
    }

    /// <summary>Closes a port and the other end's (which is told), or tells the domain it was waiting for a bind from that the wait is over.</summary>
    private void Close(LoopbackDomainState domain, LoopbackPortRecord port)
    {
        domain.Ports.Remove(port.Port);
        port.Incoming.Dispose();
        if (port.RemotePort != 0 && _domains.TryGetValue(port.RemoteDomain, out LoopbackDomainState? remote)
            && remote.Ports.TryGetValue(port.RemotePort, out LoopbackPortRecord? other))
        {
            remote.Ports.Remove(other.Port);
            other.Incoming.Dispose();
            Tell(remote, new LoopbackMessage(LoopbackMessageType.ChannelClosed, arg0: other.Port));
        }
    }

    /// <summary>Undoes everything a departed domain held: its grants end, its maps go, its channels close (the other ends are told).</summary>
    private void Drop(LoopbackDomainState domain)
    {
        domain.Gone = true;
        _domains.Remove(domain.Id);

        // Its own grants: gone with it. A domain that maps one keeps its pages (its mapping holds the memfd).
        domain.Grants.Clear();

        // Grants to it: its maps went with its process (or its socket); those already ended are released now.
        foreach (LoopbackDomainState granter in _domains.Values)
        {
            var released = new List<uint>();
            foreach (LoopbackGrantRecord grant in granter.Grants.Values.Where(g => g.Grantee == domain.Id).ToArray())
            {
                grant.MapCount = 0;
                if (grant.Ending)
                {
                    granter.Grants.Remove(grant.Reference);
                    released.Add(grant.Reference);
                }
            }

            TellReleased(granter, released);
        }

        foreach (LoopbackPortRecord port in domain.Ports.Values.ToArray())
        {
            Close(domain, port);
        }

        // Ports of others that waited for this domain to bind them: it never will.
        foreach (LoopbackDomainState other in _domains.Values)
        {
            foreach (LoopbackPortRecord port in other.Ports.Values.Where(p => p.RemoteDomain == domain.Id && p.RemotePort == 0).ToArray())
            {
                other.Ports.Remove(port.Port);
                port.Incoming.Dispose();
                Tell(other, new LoopbackMessage(LoopbackMessageType.ChannelClosed, arg0: port.Port));
            }
        }

        domain.Arena.Dispose();
        domain.ArenaReadOnly.Dispose();
    }

    private void TellReleased(LoopbackDomainState granter, List<uint> released)
    {
        if (released.Count > 0)
        {
            Tell(granter, new LoopbackMessage(LoopbackMessageType.Released, items: [.. released]));
        }
    }

    /// <summary>Sends a notice without waiting: a domain that does not read its socket is cut off (its thread then drops it).</summary>
    private static void Tell(LoopbackDomainState domain, LoopbackMessage notice)
    {
        if (domain.Gone)
        {
            return;
        }

        // The notice's descriptor belongs to a record; the message does not own it.
        if (notice.Send(domain.Connection, dontWait: true) != 0)
        {
            domain.Gone = true;
            ShutdownQuietly(domain.Connection);
        }
    }

    private static int PageSize => Environment.SystemPageSize;
}
