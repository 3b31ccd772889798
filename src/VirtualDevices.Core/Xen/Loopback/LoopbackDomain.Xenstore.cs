using VirtualDevices.Interop;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Loopback;

/// <summary>The xenstore ring of a loopback domain, given by a hypervisor that runs xenstore.</summary>
public sealed partial class LoopbackDomain
{
    private LoopbackEventChannel? _xenstoreChannel;
    private uint _xenstoreFrame;
    private XenstoreClient? _xenstoreClient;
    private int _xenstoreUsed;

    /// <summary>True when the hypervisor runs xenstore and gave this domain a ring (<see cref="ConnectXenstore"/>).</summary>
    public bool HasXenstore => _xenstoreChannel is not null;

    /// <summary>
    /// This domain's xenstore connection over its ring page and event channel, as a Xen guest's kernel has it: the
    /// same client as over xenstored's socket or <c>/dev/xen/xenbus</c>, speaking for this domain (its permissions,
    /// its quotas, relative paths under <c>/local/domain/&lt;id&gt;</c>). Requests wait in the ring until the
    /// toolstack has introduced the domain, so the first ones may be answered a little later.
    /// </summary>
    /// <param name="options">Client options; reconnection does not apply (the ring is the domain's for its life).</param>
    /// <remarks>
    /// One connection per domain, as the one xenbus connection of a guest kernel: replies to a closed connection's
    /// requests would reach the next one's, so the ring is not handed out twice. Leaving the hypervisor closes it.
    /// </remarks>
    /// <exception cref="DeviceException"><see cref="DeviceErrorIds.XenLoopback.NoXenstore"/>: the hypervisor runs no
    /// xenstore, or the ring was connected already.</exception>
    public XenstoreClient ConnectXenstore(XenstoreClientOptions? options = null)
    {
        XenstoreClient client = XenstoreClient.OverTransport(OpenXenstoreTransport(), options);
        Volatile.Write(ref _xenstoreClient, client);
        if (_disposed != 0)
        {
            CloseXenstore();
            ObjectDisposedException.ThrowIf(true, this);
        }

        return client;
    }

    /// <summary>
    /// The guest's end of this domain's xenstore ring, over its page and <paramref name="channel"/> (its xenstore
    /// port when null; another port of its own once dom0 re-introduced it with that one). Once per domain.
    /// </summary>
    /// <exception cref="DeviceException"><see cref="DeviceErrorIds.XenLoopback.NoXenstore"/>.</exception>
    internal unsafe XenstoreRingTransport OpenXenstoreTransport(IEventChannel? channel = null)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        LoopbackEventChannel own = _xenstoreChannel ?? throw new DeviceException(DeviceErrorIds.XenLoopback.NoXenstore, DeviceErrorCategory.InvalidOperation,
            $"Domain {DomainId} has no xenstore ring: the loopback hypervisor at {Source} was started without xenstore.", LoopbackErrors.Source);
        if (Interlocked.Exchange(ref _xenstoreUsed, 1) != 0)
        {
            throw new DeviceException(DeviceErrorIds.XenLoopback.NoXenstore, DeviceErrorCategory.ResourceBusy,
                $"Domain {DomainId}'s xenstore ring was connected already (one connection per domain, as a guest kernel's).", LoopbackErrors.Source);
        }

        return new XenstoreRingTransport((byte*)_arena.PageAddress(_xenstoreFrame), channel ?? own, server: false,
            $"the xenstore ring of loopback domain {DomainId}", release: null);
    }

    /// <summary>This domain's xenstore page, mapped here (a page of its arena): for tests that play a hostile guest.</summary>
    internal unsafe byte* XenstorePage => HasXenstore ? (byte*)_arena.PageAddress(_xenstoreFrame) : null;

    /// <summary>This domain's xenstore port: for tests that play a hostile guest.</summary>
    internal IEventChannel? XenstoreChannel => _xenstoreChannel;

    /// <summary>The hypervisor's join reply said: the ring is at <paramref name="frame"/> of the arena, its port is <paramref name="port"/>.</summary>
    private void AttachXenstore(uint port, uint frame, SafeFileDescriptor? incoming)
    {
        if (incoming is null || frame >= (uint)_arena.Pages)
        {
            incoming?.Dispose();
            throw LoopbackErrors.FromStatus(LoopbackStatus.ProtocolError, "Joining the loopback hypervisor (its xenstore ring is not in the arena)");
        }

        _arena.Reserve(frame);
        _xenstoreFrame = frame;
        _xenstoreChannel = Record(new LoopbackEventChannel(this, port, LoopbackXenstore.DomainId, incoming, peer: null));
    }

    private void CloseXenstore() => Interlocked.Exchange(ref _xenstoreClient, null)?.Dispose();
}
