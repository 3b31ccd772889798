using System.Net.Sockets;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;

namespace VirtualDevices.Xen.Loopback;

/// <summary>
/// A domain joined to a <see cref="LoopbackHypervisor"/>: its grant table and its event channels, the same
/// interfaces a driver uses on real Xen (<see cref="IGrantTable"/>, <see cref="IEventChannels"/>). Pages it grants
/// come from its arena (a memfd the hypervisor passes to the domains that map them); its ports are eventfds.
/// </summary>
/// <remarks>
/// <para>Requests go to the hypervisor one at a time over the control socket (they are the control path); a thread
/// reads the replies and the hypervisor's notices (a grant released by its last mapper, a port bound or closed at
/// the other end). Notifies and page accesses never involve the hypervisor.</para>
/// <para>Disposing leaves the hypervisor: this domain's grants end (domains that map them keep their pages), its
/// mappings go, its channels close, and the other ends are told.</para>
/// </remarks>
public sealed partial class LoopbackDomain : IGrantTable, IEventChannels
{
    /// <summary>The default arena: 1024 pages (4 MiB, sparse), gntalloc's default limit on real Xen.</summary>
    public const int DefaultArenaPages = 1024;

    /// <summary>How long a request waits for its reply before the hypervisor counts as gone (it answers at once when alive).</summary>
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(30);

    // A departure takes the hypervisor milliseconds (its xenstore part included); one that has not answered in 5 s is
    // wedged, and closing the socket departs the domain all the same.
    private static readonly TimeSpan LeaveTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;
    private readonly LoopbackArena _arena;
    private readonly object _requestGate = new();
    private readonly object _stateGate = new();
    private readonly Thread _reader;
    private TaskCompletionSource<LoopbackMessage>? _pending;
    private volatile bool _gone;
    private int _disposed;

    private LoopbackDomain(Socket socket, LoopbackArena arena, string source)
    {
        _socket = socket;
        _arena = arena;
        Source = source;
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "xen-loopback domain reader" };
    }

    /// <summary>This domain's id, given by the hypervisor.</summary>
    public ushort DomainId { get; private set; }

    /// <summary>The hypervisor's control socket, or <c>in-process</c>.</summary>
    public string Source { get; }

    /// <summary>True once the hypervisor went away (or this domain left it).</summary>
    public bool IsDisconnected => _gone;

    /// <summary>The pages of this domain's arena: the most it can have granted (or still mapped by peers after their end) at once.</summary>
    public int ArenaPages => _arena.Pages;

    /// <summary>The arena's pages taken now: granted, or ended but still mapped by a peer.</summary>
    public int ArenaPagesInUse => _arena.PagesInUse;

    /// <inheritdoc/>
    public int PageSize => Environment.SystemPageSize;

    /// <summary>Joins the hypervisor listening on <paramref name="socketPath"/>.</summary>
    /// <param name="socketPath">Its control socket.</param>
    /// <param name="domainId">The id asked for, or null for the lowest free id from 1.</param>
    /// <param name="arenaPages">The pages of the grant arena.</param>
    /// <exception cref="DeviceException"><see cref="DeviceErrorIds.XenLoopback.ConnectFailed"/> (nobody listens there),
    /// <see cref="DeviceErrorIds.XenLoopback.DomainIdInUse"/>.</exception>
    public static LoopbackDomain Join(string socketPath, ushort? domainId = null, int arenaPages = DefaultArenaPages)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The loopback hypervisor uses memfd, eventfd and seqpacket sockets, which only Linux has.");
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new DeviceException(DeviceErrorIds.XenLoopback.ConnectFailed, DeviceErrorCategory.ConnectionError,
                $"No loopback hypervisor answers at '{socketPath}': {e.Message}", socketPath, e);
        }

        return Join(socket, socketPath, domainId, arenaPages);
    }

    internal static LoopbackDomain Join(Socket socket, string source, ushort? domainId, int arenaPages)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(arenaPages, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(arenaPages, 65536);
        LoopbackArena arena;
        try
        {
            arena = LoopbackArena.Create(arenaPages, "xen-loopback-arena");
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var domain = new LoopbackDomain(socket, arena, source);
        try
        {
            domain._reader.Start();
            using LoopbackMessage reply = domain.Request(
                new LoopbackMessage(LoopbackMessageType.Join, arg0: domainId ?? LoopbackMessage.AnyDomain, arg1: (uint)arenaPages, descriptor: arena.Descriptor, ownsDescriptor: false),
                "Joining the loopback hypervisor");
            domain.DomainId = (ushort)reply.Arg0;
            if (reply.Arg1 != 0)
            {
                domain.AttachXenstore(reply.Arg1, reply.Arg2, reply.TakeDescriptor());
            }

            return domain;
        }
        catch
        {
            domain.Dispose();
            throw;
        }
    }

    /// <summary>Leaves the hypervisor: grants end, mappings go, channels close; the other ends are told.</summary>
    public void Dispose() => Leave(CancellationToken.None);

    /// <summary>
    /// Leaves: a goodbye the hypervisor answers once the departure is done (its grants ended, its channels closed, with
    /// xenstore its home removed), so that a listing right after this no longer shows the domain; then the socket
    /// closes. The goodbye waits <see cref="LeaveTimeout"/> at most, or until <paramref name="cancellationToken"/>
    /// (Ctrl+C): a hypervisor that does not answer still sees the domain go when its socket closes.
    /// </summary>
    private void Leave(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Not from the reader's own thread (it delivers the reply), and a hypervisor gone already needs none.
        if (!_gone && Environment.CurrentManagedThreadId != _reader.ManagedThreadId)
        {
            CloseXenstore(); // its ring goes with the departure
            try
            {
                Request(new LoopbackMessage(LoopbackMessageType.Leave), "Leaving the loopback hypervisor", LeaveTimeout, cancellationToken).Dispose();
            }
            catch (Exception e) when (e is DeviceException or OperationCanceledException)
            {
                // Gone, refused, slow or given up on: the socket's close below is the departure.
            }
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        if (_reader.IsAlive && Environment.CurrentManagedThreadId != _reader.ManagedThreadId)
        {
            _reader.Join(TimeSpan.FromSeconds(5));
        }

        // Before the arena goes: the client's ring is a page of it.
        CloseXenstore();
        OnGone();
        InvalidateAll();
        _arena.Dispose();
        _socket.Dispose();
    }

    /// <summary>Sends a request and waits for its reply; a failed status is its typed error.</summary>
    internal LoopbackMessage Request(LoopbackMessage request, string what) => Request(request, what, ReplyTimeout, CancellationToken.None);

    /// <summary>As <see cref="Request(LoopbackMessage, string)"/>, waiting <paramref name="timeout"/> at most or until <paramref name="cancellationToken"/>.</summary>
    /// <exception cref="OperationCanceledException">Cancelled while waiting for the reply.</exception>
    private LoopbackMessage Request(LoopbackMessage request, string what, TimeSpan timeout, CancellationToken cancellationToken)
    {
        lock (_requestGate)
        {
            if (_gone)
            {
                throw LoopbackErrors.HypervisorGone(what);
            }

            var pending = new TaskCompletionSource<LoopbackMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _pending, pending);
            try
            {
                if (request.Send(_socket, dontWait: false) != 0 || !pending.Task.Wait(timeout, cancellationToken))
                {
                    throw LoopbackErrors.HypervisorGone(what);
                }
            }
            catch (AggregateException e) when (e.InnerException is DeviceException inner)
            {
                throw inner;
            }
            finally
            {
                Volatile.Write(ref _pending, null);
            }

            LoopbackMessage reply = pending.Task.Result;
            if (reply.Status != LoopbackStatus.Ok)
            {
                reply.Dispose();
                throw LoopbackErrors.FromStatus(reply.Status, what);
            }

            if (reply.Type != (request.Type | LoopbackMessageType.Reply))
            {
                reply.Dispose();
                throw LoopbackErrors.FromStatus(LoopbackStatus.ProtocolError, $"{what} (the hypervisor answered {reply.Type})");
            }

            return reply;
        }
    }

    private void ReadLoop()
    {
        byte[] buffer = new byte[LoopbackMessage.MaxSize];
        try
        {
            while (LoopbackMessage.Receive(_socket, buffer, out LoopbackMessage? message, out _))
            {
                if (message is null)
                {
                    continue; // the hypervisor never sends one; nothing to do with it
                }

                if ((message.Type & LoopbackMessageType.Notice) != 0)
                {
                    using (message)
                    {
                        try
                        {
                            OnNotice(message);
                        }
                        catch (ObjectDisposedException)
                        {
                            // A notice for a channel or grant closed here meanwhile: nothing left to tell it.
                        }
                    }
                }
                else if (Volatile.Read(ref _pending) is { } pending)
                {
                    pending.TrySetResult(message);
                }
                else
                {
                    message.Dispose();
                }
            }
        }
        catch (ObjectDisposedException)
        {
            // The socket was closed under us by Dispose.
        }
        finally
        {
            OnGone();
        }
    }

    private void OnNotice(LoopbackMessage notice)
    {
        switch (notice.Type)
        {
            case LoopbackMessageType.Released:
                OnReleased(notice.Items);
                break;
            case LoopbackMessageType.ChannelBound:
                OnChannelBound(notice.Arg0, notice.TakeDescriptor());
                break;
            case LoopbackMessageType.ChannelClosed:
                OnChannelClosed(notice.Arg0);
                break;
        }
    }

    private void OnGone()
    {
        _gone = true;
        Volatile.Read(ref _pending)?.TrySetException(LoopbackErrors.HypervisorGone("Waiting for the loopback hypervisor"));
        CloseAllChannels();
    }
}
