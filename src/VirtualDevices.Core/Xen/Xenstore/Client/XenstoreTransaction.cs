using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>
/// An open transaction: the node operations see a private snapshot and their changes become visible together on
/// <see cref="CommitAsync"/>, or fail it with EAGAIN when another change got in the way. Disposing an uncommitted
/// transaction aborts it. <see cref="XenstoreClient.RunInTransactionAsync{T}"/> handles the retries.
/// </summary>
public sealed class XenstoreTransaction : IXenstoreStore, IAsyncDisposable
{
    private readonly XenstoreClient _client;
    private int _completed;

    internal XenstoreTransaction(XenstoreClient client, uint id)
    {
        _client = client;
        Id = id;
    }

    /// <summary>The transaction id xenstored allocated.</summary>
    public uint Id { get; }

    /// <summary>True once committed or aborted.</summary>
    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    /// <summary>Commits the transaction.</summary>
    /// <exception cref="XenstoreException">EAGAIN (<see cref="XenstoreException.IsTransactionConflict"/>) when it conflicted: start again.</exception>
    public ValueTask CommitAsync(CancellationToken cancellationToken = default) => EndAsync(commit: true, cancellationToken);

    /// <summary>Discards the transaction's changes.</summary>
    public ValueTask AbortAsync(CancellationToken cancellationToken = default) => EndAsync(commit: false, cancellationToken);

    private ValueTask EndAsync(bool commit, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            throw new InvalidOperationException($"Transaction {Id} is already committed or aborted.");
        }

        return _client.EndTransactionAsync(Id, commit, cancellationToken);
    }

    /// <summary>Aborts the transaction unless it was committed or aborted; errors are ignored (the connection may be gone).</summary>
    public async ValueTask DisposeAsync()
    {
        if (IsCompleted)
        {
            return;
        }

        try
        {
            await AbortAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (DeviceException)
        {
        }
    }

    /// <inheritdoc/>
    public ValueTask<byte[]> ReadAsync(string path, CancellationToken cancellationToken = default) => _client.ReadCoreAsync(Id, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<byte[]?> TryReadAsync(string path, CancellationToken cancellationToken = default) => _client.TryReadCoreAsync(Id, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<string> ReadStringAsync(string path, CancellationToken cancellationToken = default) => _client.ReadStringCoreAsync(Id, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<string?> TryReadStringAsync(string path, CancellationToken cancellationToken = default) => _client.TryReadStringCoreAsync(Id, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask WriteAsync(string path, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        _client.WriteCoreAsync(Id, path, value.Span, cancellationToken);

    /// <inheritdoc/>
    public ValueTask WriteAsync(string path, string value, CancellationToken cancellationToken = default) =>
        _client.WriteCoreAsync(Id, path, value, cancellationToken);

    /// <inheritdoc/>
    public ValueTask MakeDirectoryAsync(string path, CancellationToken cancellationToken = default) =>
        _client.PathCommandAsync(Id, XenstoreMessageType.MakeDirectory, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask RemoveAsync(string path, CancellationToken cancellationToken = default) =>
        _client.PathCommandAsync(Id, XenstoreMessageType.Remove, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken = default) => _client.ListCoreAsync(Id, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<bool> ExistsAsync(string path, CancellationToken cancellationToken = default) => _client.ExistsCoreAsync(Id, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<XenstorePermissions> GetPermissionsAsync(string path, CancellationToken cancellationToken = default) =>
        _client.GetPermissionsCoreAsync(Id, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask SetPermissionsAsync(string path, XenstorePermissions permissions, CancellationToken cancellationToken = default) =>
        _client.SetPermissionsCoreAsync(Id, path, permissions, cancellationToken);
}
