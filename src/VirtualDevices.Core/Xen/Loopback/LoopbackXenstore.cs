using System.Buffers;
using System.Globalization;
using VirtualDevices.IO;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Protocol;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Xen.Loopback;

/// <summary>
/// The loopback hypervisor's xenstore: the embedded server run by dom0 (a domain of the hypervisor's own, joined in
/// process, as xenstored runs in dom0 on Xen), and the toolstack's part, done as libxl does: a joining guest's
/// <c>/local/domain/&lt;id&gt;</c> written, then INTRODUCE with its ring page and port, so that the server maps the
/// guest's reserved grant and binds the port through the hypervisor like any dom0 driver; RELEASE and the directory
/// removed when the guest leaves.
/// </summary>
/// <remarks>
/// Toolstack calls run on the joining (or leaving) domain's control thread, never under the hypervisor's lock: the
/// server's INTRODUCE maps and binds through dom0's own control socket, whose requests need that lock.
/// </remarks>
internal sealed class LoopbackXenstore : IXenstoreRingConnector, IDisposable
{
    /// <summary>The domain xenstored runs in: dom0, libxl's default <c>xenstore_domid</c>.</summary>
    public const ushort DomainId = 0;

    /// <summary>Toolstack calls answer in microseconds; 30 s only bounds a wedged server (the join goes on without xenstore).</summary>
    private static readonly TimeSpan ToolstackTimeout = TimeSpan.FromSeconds(30);

    private readonly XenstoreClient _toolstack;
    private int _stopped;

    private LoopbackXenstore(XenstoreServer server, LoopbackDomain domain0, XenstoreClient toolstack)
    {
        Server = server;
        Domain0 = domain0;
        _toolstack = toolstack;
    }

    /// <summary>The embedded server.</summary>
    public XenstoreServer Server { get; }

    /// <summary>Dom0, in this process: the server's grants and channels are its.</summary>
    public LoopbackDomain Domain0 { get; }

    /// <summary>Starts the server (listening on <paramref name="socketPath"/> when given) and joins dom0 to <paramref name="hypervisor"/>.</summary>
    public static LoopbackXenstore Start(LoopbackHypervisor hypervisor, string? socketPath)
    {
        XenstoreServer server = socketPath is null ? new XenstoreServer() : XenstoreServer.Listen(socketPath);
        LoopbackDomain? domain0 = null;
        try
        {
            domain0 = hypervisor.JoinInProcess(DomainId);
            var toolstack = XenstoreClient.ConnectInProcess(server, 0);
            var xenstore = new LoopbackXenstore(server, domain0, toolstack);
            server.UseRings(xenstore);
            xenstore.Run(async ct =>
            {
                await toolstack.WriteAsync("/local/domain/0/name", "Domain-0", ct).ConfigureAwait(false);
                await toolstack.WriteAsync("/local/domain/0/domid", "0", ct).ConfigureAwait(false);
            });
            return xenstore;
        }
        catch
        {
            domain0?.Dispose();
            server.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public unsafe Transport Connect(int domainId, ulong frame, uint port)
    {
        if (domainId is <= 0 or > LoopbackHypervisor.MaxDomainId)
        {
            throw LoopbackErrors.FromStatus(LoopbackStatus.DomainNotFound, $"Introducing domain {domainId}");
        }

        ushort domain = (ushort)domainId;
        IMappedGrants page = Domain0.Map(domain, [XenstoreRingLayout.ReservedGrantReference], GrantAccess.ReadWrite);
        IEventChannel channel;
        try
        {
            channel = Domain0.BindInterdomain(domain, port);
        }
        catch
        {
            page.Dispose();
            throw;
        }

        MemoryHandle pin = page.Memory.Pin();
        return new XenstoreRingTransport((byte*)pin.Pointer, channel, server: true,
            $"the xenstore ring of domain {domainId}", () =>
            {
                channel.Dispose();
                pin.Dispose();
                page.Dispose();
            });
    }

    /// <summary>The toolstack's part of a guest's creation: its directory as libxl writes it, then INTRODUCE.</summary>
    public void OnJoined(ushort domainId, uint frame, uint port)
    {
        string id = domainId.ToString(CultureInfo.InvariantCulture);
        string home = "/local/domain/" + id;
        Run(async ct =>
        {
            // libxl__domain_make: the home owned by dom0 and readable by the guest; the guest's own subtrees (data,
            // drivers, attr, error...) owned by it: "data" stands for them here.
            await _toolstack.MakeDirectoryAsync(home, ct).ConfigureAwait(false);
            await _toolstack.SetPermissionsAsync(home, XenstorePermissions.Parse(["n0", "r" + id]), ct).ConfigureAwait(false);
            await _toolstack.WriteAsync(home + "/name", "loopback-" + id, ct).ConfigureAwait(false);
            await _toolstack.WriteAsync(home + "/domid", id, ct).ConfigureAwait(false);
            await _toolstack.MakeDirectoryAsync(home + "/data", ct).ConfigureAwait(false);
            await _toolstack.SetPermissionsAsync(home + "/data", XenstorePermissions.Parse(["n" + id]), ct).ConfigureAwait(false);
            await _toolstack.IntroduceDomainAsync(domainId, frame, port, ct).ConfigureAwait(false);
        });
    }

    /// <summary>The toolstack's part of a guest's destruction: RELEASE (@releaseDomain fires), then its directory removed.</summary>
    public void OnLeft(ushort domainId)
    {
        string home = "/local/domain/" + domainId.ToString(CultureInfo.InvariantCulture);
        Run(async ct =>
        {
            if (await _toolstack.IsDomainIntroducedAsync(domainId, ct).ConfigureAwait(false))
            {
                await _toolstack.ReleaseDomainAsync(domainId, ct).ConfigureAwait(false);
            }

            await _toolstack.RemoveAsync(home, ct).ConfigureAwait(false);
        });
    }

    /// <summary>Stops the server first (its rings unmap and unbind through dom0 while the hypervisor still answers), then dom0 leaves.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        _toolstack.Dispose();
        Server.Dispose();
        Domain0.Dispose();
    }

    /// <summary>Runs a toolstack step to its end (bounded); a failure leaves that domain without xenstore rather than failing its join.</summary>
    private void Run(Func<CancellationToken, Task> step)
    {
        if (Volatile.Read(ref _stopped) != 0)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(ToolstackTimeout);
        try
        {
            step(timeout.Token).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is DeviceException or OperationCanceledException or ObjectDisposedException)
        {
            // The server is stopping, or refused (a domain that left while being introduced): nothing to undo.
        }
    }
}
