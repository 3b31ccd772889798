using System.Text;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Server;

internal sealed partial class XenstoreDatabase
{
    private static readonly byte[] IntroduceDomainPath = Encoding.ASCII.GetBytes(XenstorePath.IntroduceDomain);
    private static readonly byte[] ReleaseDomainPath = Encoding.ASCII.GetBytes(XenstorePath.ReleaseDomain);
    private static readonly byte[] ControlHelp = "check\nprint <string>\nhelp\n\0"u8.ToArray();

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

        // <domid>|<mfn>|<evtchn>|: the ring page and event channel mean nothing without a hypervisor; the domain
        // id is what the embedded server keeps.
        if (!RequestPayload.TakeDomain(ref payload, out int domainId) || domainId == 0
            || !RequestPayload.TakeString(ref payload, out _) || !RequestPayload.TakeString(ref payload, out _))
        {
            return ServerError.EINVAL;
        }

        IntroduceDomain(domainId);
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
