using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <content>The node operations and transactions.</content>
public sealed partial class XenstoreClient
{
    /// <inheritdoc/>
    public ValueTask<byte[]> ReadAsync(string path, CancellationToken cancellationToken = default) => ReadCoreAsync(0, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<byte[]?> TryReadAsync(string path, CancellationToken cancellationToken = default) => TryReadCoreAsync(0, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<string> ReadStringAsync(string path, CancellationToken cancellationToken = default) => ReadStringCoreAsync(0, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<string?> TryReadStringAsync(string path, CancellationToken cancellationToken = default) => TryReadStringCoreAsync(0, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask WriteAsync(string path, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        WriteCoreAsync(0, path, value.Span, cancellationToken);

    /// <inheritdoc/>
    public ValueTask WriteAsync(string path, string value, CancellationToken cancellationToken = default) =>
        WriteCoreAsync(0, path, value, cancellationToken);

    /// <inheritdoc/>
    public ValueTask MakeDirectoryAsync(string path, CancellationToken cancellationToken = default) =>
        PathCommandAsync(0, XenstoreMessageType.MakeDirectory, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask RemoveAsync(string path, CancellationToken cancellationToken = default) =>
        PathCommandAsync(0, XenstoreMessageType.Remove, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken = default) => ListCoreAsync(0, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<bool> ExistsAsync(string path, CancellationToken cancellationToken = default) => ExistsCoreAsync(0, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<XenstorePermissions> GetPermissionsAsync(string path, CancellationToken cancellationToken = default) =>
        GetPermissionsCoreAsync(0, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask SetPermissionsAsync(string path, XenstorePermissions permissions, CancellationToken cancellationToken = default) =>
        SetPermissionsCoreAsync(0, path, permissions, cancellationToken);

    internal ValueTask<byte[]> ReadCoreAsync(uint transaction, string path, CancellationToken cancellationToken) =>
        RequestAsync(OutgoingMessage.Build(XenstoreMessageType.Read, transaction, path), path, static p => p.ToArray(), missingIsDefault: false, cancellationToken);

    internal ValueTask<byte[]?> TryReadCoreAsync(uint transaction, string path, CancellationToken cancellationToken) =>
        RequestAsync<byte[]?>(OutgoingMessage.Build(XenstoreMessageType.Read, transaction, path), path, static p => p.ToArray(), missingIsDefault: true, cancellationToken);

    internal ValueTask<string> ReadStringCoreAsync(uint transaction, string path, CancellationToken cancellationToken) =>
        RequestAsync(OutgoingMessage.Build(XenstoreMessageType.Read, transaction, path), path, static p => Encoding.UTF8.GetString(p), missingIsDefault: false, cancellationToken);

    internal ValueTask<string?> TryReadStringCoreAsync(uint transaction, string path, CancellationToken cancellationToken) =>
        RequestAsync<string?>(OutgoingMessage.Build(XenstoreMessageType.Read, transaction, path), path, static p => Encoding.UTF8.GetString(p), missingIsDefault: true, cancellationToken);

    internal ValueTask WriteCoreAsync(uint transaction, string path, ReadOnlySpan<byte> value, CancellationToken cancellationToken) =>
        CommandAsync(OutgoingMessage.Build(XenstoreMessageType.Write, transaction, path, value), path, cancellationToken);

    internal ValueTask WriteCoreAsync(uint transaction, string path, string value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(value);
        int byteCount = Encoding.UTF8.GetByteCount(value);
        if (byteCount > XenstoreLimits.PayloadMax)
        {
            throw OutgoingMessage.TooBig(XenstoreMessageType.Write, path, byteCount);
        }

        Span<byte> bytes = stackalloc byte[byteCount];
        Encoding.UTF8.GetBytes(value, bytes);
        return WriteCoreAsync(transaction, path, bytes, cancellationToken);
    }

    internal ValueTask PathCommandAsync(uint transaction, XenstoreMessageType type, string path, CancellationToken cancellationToken) =>
        CommandAsync(OutgoingMessage.Build(type, transaction, path), path, cancellationToken);

    internal ValueTask<bool> ExistsCoreAsync(uint transaction, string path, CancellationToken cancellationToken) =>
        RequestAsync(OutgoingMessage.Build(XenstoreMessageType.GetPermissions, transaction, path), path, static _ => true, missingIsDefault: true, cancellationToken);

    internal ValueTask<XenstorePermissions> GetPermissionsCoreAsync(uint transaction, string path, CancellationToken cancellationToken) =>
        RequestAsync(OutgoingMessage.Build(XenstoreMessageType.GetPermissions, transaction, path), path, ParsePermissions, missingIsDefault: false, cancellationToken);

    internal ValueTask SetPermissionsCoreAsync(uint transaction, string path, XenstorePermissions permissions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(permissions);
        Span<byte> wire = stackalloc byte[permissions.WireLength];
        permissions.WriteWire(wire);
        return CommandAsync(OutgoingMessage.Build(XenstoreMessageType.SetPermissions, transaction, path, wire), path, cancellationToken);
    }

    /// <summary>DIRECTORY, and when the list is too long for one reply (E2BIG), DIRECTORY_PART slices, restarted
    /// if the directory changes in between (libxenstore's algorithm; the OCaml client cannot list such directories).</summary>
    internal ValueTask<IReadOnlyList<string>> ListCoreAsync(uint transaction, string path, CancellationToken cancellationToken)
    {
        // E2BIG comes back as null rather than as an exception: the common small directory takes the pooled,
        // allocation-light path, and only a large one pays for the slower listing in parts.
        ValueTask<IReadOnlyList<string>?> whole = RequestAsync<IReadOnlyList<string>?>(OutgoingMessage.Build(XenstoreMessageType.Directory, transaction, path), path, ParseNames, "E2BIG", cancellationToken);
        if (!whole.IsCompletedSuccessfully)
        {
            return ListSlowAsync(whole, transaction, path, cancellationToken);
        }

        // A value task backed by a pooled request may be consumed once only.
        return whole.Result is { } names
            ? new ValueTask<IReadOnlyList<string>>(names)
            : ListInPartsAsync(transaction, path, new XenstoreException("E2BIG", $"xenstore Directory '{path}' is too large for one reply.", path), cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<IReadOnlyList<string>> ListSlowAsync(ValueTask<IReadOnlyList<string>?> whole, uint transaction, string path, CancellationToken cancellationToken)
    {
        IReadOnlyList<string>? names = await whole.ConfigureAwait(false);
        return names ?? await ListInPartsAsync(transaction, path, new XenstoreException("E2BIG",
            $"xenstore Directory '{path}' is too large for one reply.", path), cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<IReadOnlyList<string>> ListInPartsAsync(uint transaction, string path, XenstoreException tooBig, CancellationToken cancellationToken)
    {
        for (int attempt = 0; attempt < MaxDirectoryRestarts; attempt++)
        {
            var names = new List<string>();
            string? generation = null;
            long offset = 0;
            while (true)
            {
                DirectoryPart part;
                try
                {
                    part = await RequestAsync(OutgoingMessage.BuildDirectoryPart(transaction, path, offset), path, ParseDirectoryPart, missingIsDefault: false, cancellationToken).ConfigureAwait(false);
                }
                catch (XenstoreException e) when (e.ErrorName is "ENOSYS" or "EINVAL" && offset == 0)
                {
                    // A daemon without DIRECTORY_PART: the original E2BIG is the truthful answer.
                    throw tooBig;
                }

                if (generation is null)
                {
                    generation = part.Generation;
                }
                else if (generation != part.Generation)
                {
                    break;
                }

                names.AddRange(part.Names);
                offset += part.ConsumedBytes;
                if (part.IsLast)
                {
                    return names;
                }

                if (part.ConsumedBytes == 0)
                {
                    throw new XenstoreException("EIO", $"xenstore DIRECTORY_PART '{path}' made no progress at offset {offset}.", path);
                }
            }
        }

        throw new XenstoreException("EAGAIN", $"Directory '{path}' kept changing while it was listed in parts.", path);
    }

    private readonly record struct DirectoryPart(string Generation, List<string> Names, long ConsumedBytes, bool IsLast);

    private static DirectoryPart ParseDirectoryPart(ReadOnlySpan<byte> payload)
    {
        int end = payload.IndexOf((byte)0);
        if (end < 0)
        {
            throw new XenstoreException("EIO", "Malformed DIRECTORY_PART reply: no generation.");
        }

        string generation = Encoding.ASCII.GetString(payload[..end]);
        ReadOnlySpan<byte> rest = payload[(end + 1)..];
        var names = new List<string>();
        long consumed = 0;
        bool last = false;
        while (!rest.IsEmpty)
        {
            int nul = rest.IndexOf((byte)0);
            if (nul == 0)
            {
                // An empty string: the end of the whole list.
                last = true;
                break;
            }

            ReadOnlySpan<byte> name = nul < 0 ? rest : rest[..nul];
            names.Add(Encoding.UTF8.GetString(name));
            consumed += name.Length + 1;
            rest = nul < 0 ? default : rest[(nul + 1)..];
        }

        return new DirectoryPart(generation, names, consumed, last);
    }

    /// <summary>The names of a DIRECTORY reply, in one exactly sized array (counted first, so nothing is regrown).</summary>
    private static IReadOnlyList<string> ParseNames(ReadOnlySpan<byte> payload)
    {
        int count = 0;
        for (ReadOnlySpan<byte> rest = payload; !rest.IsEmpty;)
        {
            int nul = rest.IndexOf((byte)0);
            if (nul != 0)
            {
                count++;
            }

            rest = nul < 0 ? default : rest[(nul + 1)..];
        }

        if (count == 0)
        {
            return [];
        }

        string[] names = new string[count];
        int next = 0;
        while (!payload.IsEmpty)
        {
            int nul = payload.IndexOf((byte)0);
            ReadOnlySpan<byte> name = nul < 0 ? payload : payload[..nul];
            if (!name.IsEmpty)
            {
                names[next++] = Encoding.UTF8.GetString(name);
            }

            payload = nul < 0 ? default : payload[(nul + 1)..];
        }

        return names;
    }

    private static XenstorePermissions ParsePermissions(ReadOnlySpan<byte> payload) =>
        XenstorePermissions.TryParseWire(payload, out XenstorePermissions? permissions)
            ? permissions!
            : throw new XenstoreException("EIO", "Malformed GET_PERMS reply.");

    /// <summary>Starts a transaction; prefer <see cref="RunInTransactionAsync{T}"/>, which retries conflicts.</summary>
    public async ValueTask<XenstoreTransaction> BeginTransactionAsync(CancellationToken cancellationToken = default)
    {
        uint id = await RequestAsync(OutgoingMessage.BuildStrings(XenstoreMessageType.TransactionStart, 0, ""), null, ParseTransactionId, missingIsDefault: false, cancellationToken).ConfigureAwait(false);
        return new XenstoreTransaction(this, id);
    }

    private static uint ParseTransactionId(ReadOnlySpan<byte> payload)
    {
        int nul = payload.IndexOf((byte)0);
        ReadOnlySpan<byte> digits = nul < 0 ? payload : payload[..nul];
        return uint.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out uint id) && id != 0
            ? id
            : throw new XenstoreException("EIO", "Malformed TRANSACTION_START reply.");
    }

    internal ValueTask EndTransactionAsync(uint transaction, bool commit, CancellationToken cancellationToken) =>
        CommandAsync(OutgoingMessage.BuildStrings(XenstoreMessageType.TransactionEnd, transaction, commit ? "T" : "F"), null, cancellationToken);

    /// <summary>
    /// Runs <paramref name="body"/> in a transaction and commits it; on a conflict (EAGAIN, from the commit or any
    /// request inside) the transaction is aborted and the body runs again in a new one, after a jittered
    /// exponential back-off, at most <see cref="XenstoreTransactionOptions.MaxAttempts"/> times. Any other failure
    /// aborts the transaction and propagates.
    /// </summary>
    /// <returns>What the body returned in the attempt that committed.</returns>
    /// <exception cref="XenstoreException">EAGAIN when every attempt conflicted.</exception>
    public async ValueTask<T> RunInTransactionAsync<T>(Func<XenstoreTransaction, CancellationToken, ValueTask<T>> body,
        XenstoreTransactionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        options ??= XenstoreTransactionOptions.Default;
        TimeSpan backoff = options.InitialBackoff;
        for (int attempt = 1; ; attempt++)
        {
            XenstoreTransaction transaction = await BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                T result = await body(transaction, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
            catch (XenstoreException e) when (e.IsTransactionConflict && attempt < options.MaxAttempts)
            {
            }
            finally
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
            }

            // Jitter keeps two conflicting writers from retrying in lockstep.
            double jittered = backoff.TotalMilliseconds * (0.5 + Random.Shared.NextDouble());
            await Task.Delay(TimeSpan.FromMilliseconds(jittered), cancellationToken).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, options.MaxBackoff.Ticks));
        }
    }

    /// <summary>Runs <paramref name="body"/> in a transaction, retried on conflicts; see <see cref="RunInTransactionAsync{T}"/>.</summary>
    public async ValueTask RunInTransactionAsync(Func<XenstoreTransaction, CancellationToken, ValueTask> body,
        XenstoreTransactionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        await RunInTransactionAsync<bool>(async (transaction, token) =>
        {
            await body(transaction, token).ConfigureAwait(false);
            return true;
        }, options, cancellationToken).ConfigureAwait(false);
    }
}
