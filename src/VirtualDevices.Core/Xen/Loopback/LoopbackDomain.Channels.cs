using VirtualDevices.Interop;
using VirtualDevices.Xen.EventChannels;

namespace VirtualDevices.Xen.Loopback;

/// <summary>The event channels of a loopback domain.</summary>
public sealed partial class LoopbackDomain
{
    private readonly Dictionary<uint, LoopbackEventChannel> _channels = [];

    // A port bound (or closed) at the other end before the thread that allocated it had recorded it: the notice
    // can overtake the allocating thread, which reads its reply after the reader thread did.
    private readonly Dictionary<uint, SafeFileDescriptor?> _early = [];

    /// <inheritdoc/>
    public IEventChannel AllocateUnbound(ushort remoteDomain)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        SafeFileDescriptor incoming = NewEventFd(0);
        try
        {
            using LoopbackMessage reply = Request(new LoopbackMessage(LoopbackMessageType.AllocateUnbound, arg0: remoteDomain, descriptor: incoming, ownsDescriptor: false),
                $"Allocating an unbound port for domain {remoteDomain}");
            return Record(new LoopbackEventChannel(this, reply.Arg0, remoteDomain, incoming, peer: null));
        }
        catch
        {
            incoming.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public IEventChannel BindInterdomain(ushort remoteDomain, uint remotePort)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);

        // One event pending from the start, as Xen sets at bind: the other end may have notified while unbound.
        SafeFileDescriptor incoming = NewEventFd(1);
        try
        {
            using LoopbackMessage reply = Request(
                new LoopbackMessage(LoopbackMessageType.BindInterdomain, arg0: remoteDomain, arg1: remotePort, descriptor: incoming, ownsDescriptor: false),
                $"Binding port {remotePort} of domain {remoteDomain}");
            SafeFileDescriptor? peer = reply.TakeDescriptor();
            if (peer is null)
            {
                throw LoopbackErrors.FromStatus(LoopbackStatus.ProtocolError, "Binding an interdomain port (no eventfd came with the reply)");
            }

            return Record(new LoopbackEventChannel(this, reply.Arg0, remoteDomain, incoming, peer));
        }
        catch
        {
            incoming.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Asks the hypervisor for the other end of a port whose ChannelBound notice has not been read yet: the other end
    /// may have bound already (its bind returned), and a notify then must reach it, as on Xen, not be dropped while the
    /// notice waits on this domain's control socket (a loaded CI run lost a notify so).
    /// </summary>
    internal void FetchPeer(LoopbackEventChannel channel)
    {
        using LoopbackMessage reply = Request(new LoopbackMessage(LoopbackMessageType.PeerOf, arg0: channel.Port), $"Finding the other end of port {channel.Port}");
        if (reply.Arg0 == 1 && reply.TakeDescriptor() is { } peer)
        {
            channel.OnBound(peer);
        }
    }

    /// <summary>Closes a port at the hypervisor (called once by the channel's dispose).</summary>
    internal void Unbind(LoopbackEventChannel channel)
    {
        lock (_stateGate)
        {
            _channels.Remove(channel.Port);
        }

        if (_gone)
        {
            return;
        }

        try
        {
            using LoopbackMessage reply = Request(new LoopbackMessage(LoopbackMessageType.Unbind, arg0: channel.Port), $"Unbinding port {channel.Port}");
        }
        catch (DeviceException)
        {
            // Closed already at the other end (the hypervisor forgot it then), or the hypervisor is gone.
        }
    }

    private static SafeFileDescriptor NewEventFd(uint initial)
    {
        SafeFileDescriptor fd = Unix.EventFd(initial, Unix.EFD_CLOEXEC | Unix.EFD_NONBLOCK);
        if (fd.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            fd.Dispose();
            throw LoopbackErrors.SystemCall("eventfd", errno);
        }

        return fd;
    }

    private LoopbackEventChannel Record(LoopbackEventChannel channel)
    {
        bool early;
        SafeFileDescriptor? peer;
        lock (_stateGate)
        {
            early = _early.Remove(channel.Port, out peer);
            _channels[channel.Port] = channel;
        }

        if (early)
        {
            if (peer is null)
            {
                channel.OnClosedByPeer();
            }
            else
            {
                channel.OnBound(peer);
            }
        }

        if (_gone)
        {
            channel.OnClosedByPeer();
        }

        return channel;
    }

    private void OnChannelBound(uint port, SafeFileDescriptor? peer)
    {
        if (peer is null)
        {
            return;
        }

        LoopbackEventChannel? channel;
        lock (_stateGate)
        {
            if (!_channels.TryGetValue(port, out channel))
            {
                _early[port] = peer;
                return;
            }
        }

        channel.OnBound(peer);
    }

    private void OnChannelClosed(uint port)
    {
        LoopbackEventChannel? channel;
        lock (_stateGate)
        {
            if (!_channels.Remove(port, out channel))
            {
                if (_early.Remove(port, out SafeFileDescriptor? peer))
                {
                    peer?.Dispose();
                }

                _early[port] = null;
                return;
            }
        }

        channel.OnClosedByPeer();
    }

    private void CloseAllChannels()
    {
        LoopbackEventChannel[] channels;
        lock (_stateGate)
        {
            channels = [.. _channels.Values];
            foreach (SafeFileDescriptor? peer in _early.Values)
            {
                peer?.Dispose();
            }

            _early.Clear();
        }

        foreach (LoopbackEventChannel channel in channels)
        {
            channel.OnClosedByPeer();
        }
    }
}
