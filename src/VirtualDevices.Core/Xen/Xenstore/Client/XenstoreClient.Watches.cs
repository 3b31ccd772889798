using System.Globalization;
using System.Runtime.CompilerServices;
using VirtualDevices.Interop;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <content>Watches and waiting for a condition.</content>
public sealed partial class XenstoreClient
{
    /// <summary>
    /// Registers a watch on <paramref name="path"/> (its whole subtree; or a special path such as
    /// <see cref="XenstorePath.ReleaseDomain"/>). The first event arrives straight away.
    /// </summary>
    /// <exception cref="XenstoreException">E2BIG when the watch quota is exhausted, EINVAL for a bad path.</exception>
    public async ValueTask<XenstoreWatch> WatchAsync(string path, CancellationToken cancellationToken = default)
    {
        XenstorePath.Validate(path, allowSpecial: true);
        string token = "vdw" + Interlocked.Increment(ref _nextWatchToken).ToString(CultureInfo.InvariantCulture);
        var watch = new XenstoreWatch(this, path, token, _options.WatchEventCapacity);
        lock (_watches)
        {
            _watches[token] = watch;
        }

        try
        {
            await CommandAsync(OutgoingMessage.BuildWatch(XenstoreMessageType.Watch, watch), path, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            lock (_watches)
            {
                _watches.Remove(token);
            }

            watch.Complete();
            throw;
        }

        return watch;
    }

    /// <summary>The events of a watch on <paramref name="path"/>, registered when enumeration starts and removed
    /// when it stops.</summary>
    public async IAsyncEnumerable<XenstoreWatchEvent> WatchEventsAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        XenstoreWatch watch = await WatchAsync(path, cancellationToken).ConfigureAwait(false);
        await using (((IAsyncDisposable)watch).ConfigureAwait(false))
        {
            await foreach (XenstoreWatchEvent e in watch.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return e;
            }
        }
    }

    internal async ValueTask UnwatchAsync(XenstoreWatch watch)
    {
        bool registered;
        lock (_watches)
        {
            registered = _watches.Remove(watch.Token);
        }

        watch.Complete();
        if (!registered || IsDisposed)
        {
            return;
        }

        try
        {
            await CommandAsync(OutgoingMessage.BuildWatch(XenstoreMessageType.Unwatch, watch), watch.Path, CancellationToken.None).ConfigureAwait(false);
        }
        catch (DeviceException)
        {
            // Gone already (connection lost, server restarted): nothing left to unregister.
        }
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> holds for the value of <paramref name="path"/> (null while the node
    /// does not exist), evaluating it now and after each watch event on the path.
    /// </summary>
    /// <returns>The value that satisfied the condition.</returns>
    /// <exception cref="XenstoreException">ETIMEDOUT when <paramref name="timeout"/> passes first.</exception>
    public async ValueTask<byte[]?> WaitForAsync(string path, Func<byte[]?, bool> condition, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        byte[]? satisfied = null;
        await WaitForAsync(path, async token =>
        {
            byte[]? value = await TryReadAsync(path, token).ConfigureAwait(false);
            if (condition(value))
            {
                satisfied = value;
                return true;
            }

            return false;
        }, timeout, cancellationToken).ConfigureAwait(false);
        return satisfied;
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> returns true, evaluating it once the watch on
    /// <paramref name="watchPath"/> is registered and after each of its events.
    /// </summary>
    /// <exception cref="XenstoreException">ETIMEDOUT when <paramref name="timeout"/> passes first.</exception>
    public async ValueTask WaitForAsync(string watchPath, Func<CancellationToken, ValueTask<bool>> condition, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            XenstoreWatch watch = await WatchAsync(watchPath, limit.Token).ConfigureAwait(false);
            await using (((IAsyncDisposable)watch).ConfigureAwait(false))
            {
                // The registration event comes first, so the condition is checked once after the watch is in place
                // and nothing that happens later can be missed.
                await foreach (XenstoreWatchEvent _ in watch.ReadAllAsync(limit.Token).ConfigureAwait(false))
                {
                    if (await condition(limit.Token).ConfigureAwait(false))
                    {
                        return;
                    }
                }
            }

            throw new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, "the watch ended before the condition held");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new XenstoreException("ETIMEDOUT", $"The condition on '{watchPath}' did not hold within {timeout}.", watchPath);
        }
    }
}
