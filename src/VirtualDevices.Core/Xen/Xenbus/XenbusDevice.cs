using System.Globalization;
using System.Runtime.CompilerServices;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.Xen.Xenbus;

/// <summary>
/// One end of a split device (a frontend or a backend), driven through xenstore: its own <c>state</c> and keys, the
/// peer's state and keys read and watched, features, and a clean close started from either side. The protocol
/// layers (netfront/netback, blkfront/blkback) stand on it; it knows nothing of rings or grants.
/// </summary>
/// <remarks>
/// <para>
/// A peer that goes away is reported, never waited on: its directory removed (the toolstack destroyed the device) or
/// its domain released (<c>@releaseDomain</c> fired and the domain is no longer introduced) makes every wait fail with
/// <c>XenbusPeerGone</c>. A peer that writes something other than a state number is <c>XenbusBadNode</c>.
/// </para>
/// <para>
/// States are written as Linux's <c>xenbus_switch_state</c> does: in a transaction that first checks the end's
/// directory still exists, so an end never re-creates a device the toolstack has just removed.
/// </para>
/// </remarks>
public sealed class XenbusDevice
{
    private readonly XenstoreClient _store;

    private XenbusDevice(XenstoreClient store, XenbusRole role, string path, string peerPath, int peerDomainId)
    {
        _store = store;
        Role = role;
        Path = path;
        PeerPath = peerPath;
        PeerDomainId = peerDomainId;
    }

    /// <summary>Which end this is.</summary>
    public XenbusRole Role { get; }

    /// <summary>This end's directory.</summary>
    public string Path { get; }

    /// <summary>The peer's directory (read from this end's <c>backend</c> or <c>frontend</c> key).</summary>
    public string PeerPath { get; }

    /// <summary>The peer's domain (from <c>backend-id</c> or <c>frontend-id</c>).</summary>
    public int PeerDomainId { get; }

    /// <summary>Opens one end of a device the toolstack has made (<see cref="XenbusToolstack.CreateAsync"/>).</summary>
    /// <param name="store">The connection of the end's domain.</param>
    /// <param name="role">Which end.</param>
    /// <param name="path">The end's directory (<see cref="XenbusAddress.PathOf"/>).</param>
    /// <param name="cancellationToken">Abandons the opening.</param>
    /// <exception cref="DeviceException"><c>XenbusDeviceMissing</c> when the directory or its peer keys are missing; <c>XenbusBadNode</c> when the peer's domain id is not a number.</exception>
    public static async ValueTask<XenbusDevice> OpenAsync(XenstoreClient store, XenbusRole role, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(path);
        string peerKey = role == XenbusRole.Frontend ? "backend" : "frontend";
        string? peerPath = await store.TryReadStringAsync(XenstorePath.Combine(path, peerKey), cancellationToken).ConfigureAwait(false);
        string? peerId = await store.TryReadStringAsync(XenstorePath.Combine(path, peerKey + "-id"), cancellationToken).ConfigureAwait(false);
        if (peerPath is null || peerId is null)
        {
            throw new DeviceException(DeviceErrorIds.Xenbus.DeviceMissing, DeviceErrorCategory.ObjectNotFound,
                $"{path} is not a {role.ToString().ToLowerInvariant()} of a device: its '{peerKey}' or '{peerKey}-id' key is missing.", path);
        }

        if (!int.TryParse(peerId, NumberStyles.None, CultureInfo.InvariantCulture, out int peerDomainId) || peerDomainId > 0xFFFF)
        {
            throw BadNode(XenstorePath.Combine(path, peerKey + "-id"), peerId, "a domain id");
        }

        return new XenbusDevice(store, role, path, peerPath, peerDomainId);
    }

    /// <summary>This end's state as it is written now.</summary>
    /// <param name="cancellationToken">Abandons the read.</param>
    public ValueTask<XenbusState> ReadStateAsync(CancellationToken cancellationToken = default) =>
        ReadStateOfAsync(Path, own: true, cancellationToken);

    /// <summary>The peer's state as it is written now.</summary>
    /// <param name="cancellationToken">Abandons the read.</param>
    /// <exception cref="DeviceException"><c>XenbusPeerGone</c> when the peer's directory is gone.</exception>
    public ValueTask<XenbusState> ReadPeerStateAsync(CancellationToken cancellationToken = default) =>
        ReadStateOfAsync(PeerPath, own: false, cancellationToken);

    /// <summary>Writes this end's state, unless the device has been removed meanwhile.</summary>
    /// <param name="state">The new state.</param>
    /// <param name="cancellationToken">Abandons the write.</param>
    /// <exception cref="DeviceException"><c>XenbusDeviceMissing</c> when this end's directory is gone.</exception>
    public ValueTask SwitchStateAsync(XenbusState state, CancellationToken cancellationToken = default)
    {
        if (state is XenbusState.Unknown || !Enum.IsDefined(state))
        {
            throw new ArgumentOutOfRangeException(nameof(state), state, "Only the states of xenbus.h (1 to 8) can be written.");
        }

        string value = ((int)state).ToString(CultureInfo.InvariantCulture);
        return _store.RunInTransactionAsync(async (t, ct) =>
        {
            if (!await t.ExistsAsync(Path, ct).ConfigureAwait(false))
            {
                throw Missing();
            }

            await t.WriteAsync(XenstorePath.Combine(Path, "state"), value, ct).ConfigureAwait(false);
        }, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Waits until the peer's state satisfies <paramref name="until"/> (checked now, and after each change of the
    /// peer's state or of the set of domains), and returns it.
    /// </summary>
    /// <param name="until">The condition, such as <c>s =&gt; s == XenbusState.Connected</c>.</param>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    /// <exception cref="DeviceException"><c>XenbusPeerGone</c>, <c>XenbusBadNode</c>, or <c>XenbusStateTimeout</c> (OperationTimeout).</exception>
    public async ValueTask<XenbusState> WaitForPeerStateAsync(Func<XenbusState, bool> until, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(until);
        XenbusState reached = XenbusState.Unknown;
        try
        {
            await using XenstoreWatcher watcher = await StartPeerWatcherAsync(timeout, cancellationToken).ConfigureAwait(false);
            await watcher.WaitUntilAsync(async (_, ct) =>
            {
                reached = await ReadLivePeerStateAsync(ct).ConfigureAwait(false);
                return until(reached);
            }, cancellationToken).ConfigureAwait(false);
            return reached;
        }
        catch (DeviceException e) when (e.ErrorId == DeviceErrorIds.Xenstore.WaitTimeout)
        {
            throw new DeviceException(DeviceErrorIds.Xenbus.StateTimeout, DeviceErrorCategory.OperationTimeout,
                $"The {PeerRole} at {PeerPath} did not reach the awaited state within {timeout.TotalSeconds:0.###} s (last seen: {reached}).", PeerPath, e);
        }
    }

    /// <summary>
    /// The peer's states as they change (the current one first); the stream ends with <c>XenbusPeerGone</c> when the
    /// peer goes away. Changes faster than the reader are merged: each state read is the latest.
    /// </summary>
    /// <param name="cancellationToken">Ends the stream.</param>
    public async IAsyncEnumerable<XenbusState> WatchPeerStateAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using XenstoreWatcher watcher = await StartPeerWatcherAsync(null, cancellationToken).ConfigureAwait(false);
        XenbusState? last = null;
        await foreach (XenstoreChange _ in watcher.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            XenbusState state = await ReadLivePeerStateAsync(cancellationToken).ConfigureAwait(false);
            if (state != last)
            {
                last = state;
                yield return state;
            }
        }
    }

    /// <summary>Writes a key in this end's directory (a ring reference, an event channel, a feature).</summary>
    /// <param name="key">The key, relative to <see cref="Path"/>.</param>
    /// <param name="value">The value.</param>
    /// <param name="cancellationToken">Abandons the write.</param>
    public ValueTask WriteAsync(string key, string value, CancellationToken cancellationToken = default) =>
        _store.WriteAsync(XenstorePath.Combine(Path, key), value, cancellationToken);

    /// <summary>Reads a key of this end's directory, or null.</summary>
    /// <param name="key">The key, relative to <see cref="Path"/>.</param>
    /// <param name="cancellationToken">Abandons the read.</param>
    public ValueTask<string?> TryReadAsync(string key, CancellationToken cancellationToken = default) =>
        _store.TryReadStringAsync(XenstorePath.Combine(Path, key), cancellationToken);

    /// <summary>Reads a key of the peer's directory, or null.</summary>
    /// <param name="key">The key, relative to <see cref="PeerPath"/>.</param>
    /// <param name="cancellationToken">Abandons the read.</param>
    public ValueTask<string?> TryReadPeerAsync(string key, CancellationToken cancellationToken = default) =>
        _store.TryReadStringAsync(XenstorePath.Combine(PeerPath, key), cancellationToken);

    /// <summary>Advertises a feature (<c>feature-&lt;name&gt;</c> = 1 or 0) in this end's directory.</summary>
    /// <param name="feature">The feature's name without its prefix, such as <c>sg</c> or <c>persistent</c>.</param>
    /// <param name="enabled">Whether it is offered.</param>
    /// <param name="cancellationToken">Abandons the write.</param>
    public ValueTask WriteFeatureAsync(string feature, bool enabled, CancellationToken cancellationToken = default) =>
        WriteAsync("feature-" + feature, enabled ? "1" : "0", cancellationToken);

    /// <summary>Whether the peer offers a feature: its <c>feature-&lt;name&gt;</c> key is a non-zero number (absent means no).</summary>
    /// <param name="feature">The feature's name without its prefix.</param>
    /// <param name="cancellationToken">Abandons the read.</param>
    /// <exception cref="DeviceException"><c>XenbusBadNode</c> when the key holds something other than a number.</exception>
    public async ValueTask<bool> PeerHasFeatureAsync(string feature, CancellationToken cancellationToken = default)
    {
        string key = "feature-" + feature;
        string? value = await TryReadPeerAsync(key, cancellationToken).ConfigureAwait(false);
        if (value is null)
        {
            return false;
        }

        return ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong number)
            ? number != 0
            : throw BadNode(XenstorePath.Combine(PeerPath, key), value, "a number");
    }

    /// <summary>
    /// Closes this end cleanly: Closing, then waits for the peer to let go (Closing or Closed, or not yet or no longer
    /// connected: Initialising, InitWait; or gone), then Closed, as
    /// Linux's frontends and backends do; a peer that does not answer within <paramref name="timeout"/> is not waited
    /// on further (this end still ends Closed, and the timeout is reported).
    /// </summary>
    /// <param name="timeout">How long to wait for the peer.</param>
    /// <param name="cancellationToken">Abandons the close.</param>
    /// <returns>The peer's last state seen (Unknown when it went away).</returns>
    public async ValueTask<XenbusState> CloseAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        await SwitchStateAsync(XenbusState.Closing, cancellationToken).ConfigureAwait(false);
        XenbusState peer;
        try
        {
            peer = await WaitForPeerStateAsync(s => s is not (XenbusState.Connected or XenbusState.Initialised or XenbusState.Reconfiguring or XenbusState.Reconfigured),
                timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (DeviceException e) when (e.ErrorId == DeviceErrorIds.Xenbus.PeerGone)
        {
            peer = XenbusState.Unknown;
        }
        finally
        {
            // Closed even when the peer was slow: this end has let go of everything by now.
            if (await _store.ExistsAsync(Path, CancellationToken.None).ConfigureAwait(false))
            {
                await SwitchStateAsync(XenbusState.Closed, CancellationToken.None).ConfigureAwait(false);
            }
        }

        return peer;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Role} {Path} (peer {PeerPath}, domain {PeerDomainId})";

    private string PeerRole => Role == XenbusRole.Frontend ? "backend" : "frontend";

    private ValueTask<XenstoreWatcher> StartPeerWatcherAsync(TimeSpan? timeout, CancellationToken cancellationToken) =>
        XenstoreWatcher.StartAsync(_store, [XenstorePath.Combine(PeerPath, "state"), XenstorePath.ReleaseDomain],
            new XenstoreWatcherOptions { Timeout = timeout }, cancellationToken);

    /// <summary>The peer's state, after checking that its domain still exists (a released domain's nodes may linger).</summary>
    private async ValueTask<XenbusState> ReadLivePeerStateAsync(CancellationToken cancellationToken)
    {
        if (PeerDomainId != 0 && !await _store.IsDomainIntroducedAsync(PeerDomainId, cancellationToken).ConfigureAwait(false))
        {
            throw PeerGone($"its domain {PeerDomainId} was released");
        }

        return await ReadPeerStateAsync(cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<XenbusState> ReadStateOfAsync(string path, bool own, CancellationToken cancellationToken)
    {
        string node = XenstorePath.Combine(path, "state");
        string? text;
        try
        {
            text = await _store.TryReadStringAsync(node, cancellationToken).ConfigureAwait(false);
        }
        catch (XenstoreException e) when (!own && e.ErrorName == "EACCES")
        {
            // The peer's directory was readable when this end opened; a guest reading a removed backend directory
            // meets its unreadable parent (backend/<type>/<domid> is dom0's alone), so EACCES means gone here too.
            throw PeerGone($"{node} is gone or no longer readable");
        }

        if (text is null)
        {
            throw own ? Missing() : PeerGone($"{node} is gone");
        }

        // xenstored values are not nul-terminated, but some writers (C callers passing strlen + 1) add one.
        return int.TryParse(text.TrimEnd('\0'), NumberStyles.None, CultureInfo.InvariantCulture, out int value)
            && value is >= (int)XenbusState.Unknown and <= (int)XenbusState.Reconfigured
            ? (XenbusState)value
            : throw BadNode(node, text, "a xenbus state (0 to 8)");
    }

    private DeviceException Missing() =>
        new(DeviceErrorIds.Xenbus.DeviceMissing, DeviceErrorCategory.ObjectNotFound, $"The device at {Path} has been removed.", Path);

    private DeviceException PeerGone(string why) =>
        new(DeviceErrorIds.Xenbus.PeerGone, DeviceErrorCategory.ConnectionError, $"The {PeerRole} of {Path} went away: {why}.", Path);

    private static DeviceException BadNode(string node, string value, string expected) =>
        new(DeviceErrorIds.Xenbus.BadNode, DeviceErrorCategory.ProtocolError,
            $"{node} holds '{(value.Length > 40 ? value[..40] + "..." : value)}', not {expected}.", node);
}
