using System.Text;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// The transaction a script block of Invoke-XenstoreTransaction works in: plain methods that a script can call
/// (<c>$tx.Read('a')</c>, <c>$tx.Write('a', '1')</c>), each a request inside the transaction.
/// </summary>
public sealed class XenstoreTransactionScope
{
    private readonly XenstoreTransaction _transaction;
    private readonly CancellationToken _cancellationToken;

    internal XenstoreTransactionScope(XenstoreTransaction transaction, int attempt, CancellationToken cancellationToken)
    {
        _transaction = transaction;
        Attempt = attempt;
        _cancellationToken = cancellationToken;
    }

    /// <summary>The transaction's id.</summary>
    public uint Id => _transaction.Id;

    /// <summary>1 for the first run of the script block, more when it is run again after a conflict.</summary>
    public int Attempt { get; }

    /// <summary>Reads a node's value as text; fails if it does not exist.</summary>
    /// <param name="path">The node.</param>
    public string Read(string path) => Wait(_transaction.ReadStringAsync(path, _cancellationToken));

    /// <summary>Reads a node's value as text, or null if it does not exist.</summary>
    /// <param name="path">The node.</param>
    public string? TryRead(string path) => Wait(_transaction.TryReadStringAsync(path, _cancellationToken));

    /// <summary>Writes a node's value, creating it if needed.</summary>
    /// <param name="path">The node.</param>
    /// <param name="value">The value, written as UTF-8.</param>
    public void Write(string path, string value) => Wait(_transaction.WriteAsync(path, Encoding.UTF8.GetBytes(value ?? string.Empty), _cancellationToken));

    /// <summary>Creates an empty node (and its parents); an existing node is left as it is.</summary>
    /// <param name="path">The node.</param>
    public void MakeDirectory(string path) => Wait(_transaction.MakeDirectoryAsync(path, _cancellationToken));

    /// <summary>Removes a node and its subtree.</summary>
    /// <param name="path">The node.</param>
    public void Remove(string path) => Wait(_transaction.RemoveAsync(path, _cancellationToken));

    /// <summary>The names of a node's children.</summary>
    /// <param name="path">The node.</param>
    public string[] List(string path) => [.. Wait(_transaction.ListAsync(path, _cancellationToken))];

    /// <summary>True when the node exists.</summary>
    /// <param name="path">The node.</param>
    public bool Exists(string path) => Wait(_transaction.ExistsAsync(path, _cancellationToken));

    /// <summary>A node's permissions in xenstore-chmod notation.</summary>
    /// <param name="path">The node.</param>
    public string GetPermissions(string path) => Wait(_transaction.GetPermissionsAsync(path, _cancellationToken)).ToString();

    /// <summary>Sets a node's permissions, given in xenstore-chmod notation ('n0 r1').</summary>
    /// <param name="path">The node.</param>
    /// <param name="permissions">The permissions.</param>
    public void SetPermissions(string path, string permissions) =>
        Wait(_transaction.SetPermissionsAsync(path, XenstorePermissions.Parse(permissions), _cancellationToken));

    /// <inheritdoc/>
    public override string ToString() => $"xenstore transaction {Id} (attempt {Attempt})";

    // The script runs on the pipeline thread while the client's I/O runs on the thread pool, so blocking here is safe.
    private static T Wait<T>(ValueTask<T> pending) => pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();

    private static void Wait(ValueTask pending)
    {
        if (!pending.IsCompletedSuccessfully)
        {
            pending.AsTask().GetAwaiter().GetResult();
        }
    }
}
