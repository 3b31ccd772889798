using System.Text;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Server;

internal sealed partial class XenstoreDatabase
{
    // The ring each introduced domain was introduced with (when a hypervisor connects rings), under the tree's lock.
    private readonly Dictionary<int, (ulong Frame, uint Port)> _rings = [];

    private static readonly byte[] IntroduceDomainPath = Encoding.ASCII.GetBytes(XenstorePath.IntroduceDomain);
    private static readonly byte[] ReleaseDomainPath = Encoding.ASCII.GetBytes(XenstorePath.ReleaseDomain);
    private static readonly byte[] ControlHelp = "check\nprint <string>\nhelp\n\0"u8.ToArray();

    /// <summary>
    /// Connects an introduced domain's ring (its server connection attached) or says why not; null without a
    /// hypervisor, when INTRODUCE only records the domain. Called under the tree's lock on the loop's thread.
    /// </summary>
    internal Func<int, ulong, uint, ServerError>? RingIntroducer { get; set; }

    internal bool IsDomainIntroduced(int domainId)
    {
        lock (Sync)
        {
            return domainId == 0 || _rights.IsIntroduced(domainId);
        }
    }

    /// <summary>Marks a domain introduced and fires <c>@introduceDomain</c>; false if it already was.</summary>
    internal bool IntroduceDomain(int domainId)
    {
        lock (Sync)
        {
            if (!_rights.Introduce(domainId))
            {
                return false;
            }

            _watches.FireSpecial(IntroduceDomainPath);
            return true;
        }
    }

    /// <summary>Forgets a domain, closes its connections and fires <c>@releaseDomain</c>; false if it was not introduced.</summary>
    internal bool ReleaseDomain(int domainId)
    {
        lock (Sync)
        {
            if (!_rights.Release(domainId))
            {
                return false;
            }

            _rings.Remove(domainId);

            foreach (ServerConnection connection in _connections)
            {
                if (connection.DomainId == domainId)
                {
                    connection.Close();
                }
            }

            _watches.FireSpecial(ReleaseDomainPath);
            return true;
        }
    }

    private ServerError GetDomainPath(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!RequestPayload.TakeDomain(ref payload, out int domainId))
        {
            return ServerError.EINVAL;
        }

        Span<byte> reply = stackalloc byte[32];
        "/local/domain/"u8.CopyTo(reply);
        int length = 14 + ServerConnection.FormatNumber((ulong)domainId, reply[14..]);
        connection.AppendReply(header, reply[..length]);
        return ServerError.None;
    }

    private ServerError IsDomainIntroduced(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!RequestPayload.TakeDomain(ref payload, out int domainId))
        {
            return ServerError.EINVAL;
        }

        connection.AppendReply(header, domainId == 0 || _rights.IsIntroduced(domainId) ? ServerReplies.True : ServerReplies.False);
        return ServerError.None;
    }

    private ServerError Introduce(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!connection.IsPrivileged)
        {
            return ServerError.EACCES;
        }

        // <domid>|<mfn>|<evtchn>|: without a hypervisor (no ring introducer) the ring page and event channel mean
        // nothing and the domain id is what the embedded server keeps.
        if (!RequestPayload.TakeDomain(ref payload, out int domainId) || domainId == 0
            || !RequestPayload.TakeString(ref payload, out ReadOnlySpan<byte> frameText) || !RequestPayload.TakeString(ref payload, out ReadOnlySpan<byte> portText))
        {
            return ServerError.EINVAL;
        }

        if (RingIntroducer is { } introduce)
        {
            // As oxenstored: a port of 0 or garbage, a domain or port the hypervisor refuses, or a second INTRODUCE
            // naming another ring than the first are EINVAL; the same ring again is a harmless repeat.
            if (!ServerConnection.TryParseNumber(frameText, out ulong frame) || !ServerConnection.TryParseNumber(portText, out ulong port)
                || port == 0 || port > uint.MaxValue)
            {
                return ServerError.EINVAL;
            }

            if (_rings.TryGetValue(domainId, out (ulong Frame, uint Port) ring))
            {
                return ring == (frame, (uint)port) ? AcknowledgeIntroduce(connection, header) : ServerError.EINVAL;
            }

            ServerError error = introduce(domainId, frame, (uint)port);
            if (error != ServerError.None)
            {
                return error;
            }

            _rings[domainId] = (frame, (uint)port);
        }

        IntroduceDomain(domainId);
        connection.AppendReply(header, ServerReplies.Ok);
        return ServerError.None;
    }

    private static ServerError AcknowledgeIntroduce(ServerConnection connection, in XenstoreMessageHeader header)
    {
        connection.AppendReply(header, ServerReplies.Ok);
        return ServerError.None;
    }

    private ServerError Release(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        ServerError error = TakePrivilegedDomain(connection, ref payload, out int domainId);
        if (error != ServerError.None || domainId == 0)
        {
            return error == ServerError.None ? ServerError.EINVAL : error;
        }

        if (!ReleaseDomain(domainId))
        {
            return ServerError.ENOENT;
        }

        connection.AppendReply(header, ServerReplies.Ok);
        return ServerError.None;
    }

    private ServerError Resume(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        ServerError error = TakePrivilegedDomain(connection, ref payload, out int domainId);
        if (error != ServerError.None)
        {
            return error;
        }

        if (domainId != 0 && !_rights.IsIntroduced(domainId))
        {
            return ServerError.ENOENT;
        }

        connection.AppendReply(header, ServerReplies.Ok);
        return ServerError.None;
    }

    private ServerError SetTarget(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        ServerError error = TakePrivilegedDomain(connection, ref payload, out int domainId);
        if (error != ServerError.None || !RequestPayload.TakeDomain(ref payload, out int target))
        {
            return error == ServerError.None ? ServerError.EINVAL : error;
        }

        _rights.SetTarget(domainId, target);
        connection.AppendReply(header, ServerReplies.Ok);
        return ServerError.None;
    }

    private ServerError Control(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!connection.IsPrivileged)
        {
            return ServerError.EACCES;
        }

        if (!RequestPayload.TakeString(ref payload, out ReadOnlySpan<byte> command))
        {
            return ServerError.EINVAL;
        }

        if (command.SequenceEqual("help"u8))
        {
            connection.AppendReply(header, ControlHelp);
        }
        else if (command.SequenceEqual("check"u8) || command.SequenceEqual("print"u8))
        {
            connection.AppendReply(header, ServerReplies.Ok);
        }
        else
        {
            return ServerError.EINVAL;
        }

        return ServerError.None;
    }

    /// <summary>The domain a privileged-only request names: EACCES for an unprivileged caller, EINVAL for a missing or bad id.</summary>
    private static ServerError TakePrivilegedDomain(ServerConnection connection, ref ReadOnlySpan<byte> payload, out int domainId)
    {
        domainId = 0;
        if (!connection.IsPrivileged)
        {
            return ServerError.EACCES;
        }

        return RequestPayload.TakeDomain(ref payload, out domainId) ? ServerError.None : ServerError.EINVAL;
    }
}
