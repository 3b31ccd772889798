using System.Collections;
using System.Management.Automation.Language;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Completes xenstore node paths (<c>/local/d</c> to <c>/local/domain</c>) from the store the command would use: the
/// one given with -Store, else the session's. Paths on a drive (<c>Xs:/lo</c>) are completed by the provider, as
/// Get-ChildItem completes them. Never offers file-system paths: an empty answer tells PowerShell not to fall back
/// to them.
/// </summary>
public sealed class XenstorePathCompleter : IArgumentCompleter
{
    /// <summary>How long a Tab may wait for the store: completion must not hang the prompt on a store that stopped answering.</summary>
    private static readonly TimeSpan ListTimeout = TimeSpan.FromSeconds(2);

    /// <inheritdoc/>
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string word = (wordToComplete ?? string.Empty).Trim('\'', '"');
        if (word.Contains(':', StringComparison.Ordinal))
        {
            // A path on a drive (Xs:/lo, D1:dev) or provider-qualified: its provider completes it, as for Get-ChildItem.
            return CompletionCompleters.CompleteFilename(word).ToList();
        }

        XenstoreClient? store = (fakeBoundParameters?["Store"] is { } bound ? (bound is PSObject ps ? ps.BaseObject : bound) : null) as XenstoreClient
            ?? ModuleSession.Current.Xenstore.Current;
        if (store is null)
        {
            return [];
        }

        // "/local/d" lists /local and keeps the names starting with "d"; "/local/" lists /local; "" and "/" list the root.
        string parent;
        string leaf;
        int slash = word.LastIndexOf('/');
        if (slash < 0)
        {
            parent = "/";
            leaf = word;
            if (leaf.Length > 0)
            {
                return []; // a relative name: its home is the connection's domain's, which only the store knows
            }
        }
        else
        {
            parent = slash == 0 ? "/" : word[..slash];
            leaf = word[(slash + 1)..];
        }

        IReadOnlyList<string> children;
        try
        {
            using var timeout = new CancellationTokenSource(ListTimeout);
            children = store.ListAsync(parent, timeout.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is OperationCanceledException || ErrorRecords.IsReportable(e))
        {
            return [];
        }

        return children
            .Where(c => c.StartsWith(leaf, StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .Select(c => XenstorePath.Combine(parent, c))
            .Select(path => new CompletionResult(path, XenstorePath.GetName(path), CompletionResultType.ParameterValue, path))
            .ToList();
    }
}
