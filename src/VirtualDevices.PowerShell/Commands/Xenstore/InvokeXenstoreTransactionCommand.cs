using System.Collections.ObjectModel;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Runs a script block inside a xenstore transaction, running it again when the commit conflicts.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "XenstoreTransaction", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Invoke-XenstoreTransaction.md")]
[OutputType(typeof(PSObject))]
public sealed class InvokeXenstoreTransactionCommand : XenstoreCommand
{
    /// <summary>The work: it receives the transaction as its first argument and as $Transaction, and calls its methods (Read, Write, List, Remove...).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    public ScriptBlock ScriptBlock { get; set; } = null!;

    /// <summary>How many times to run the script block before giving up on conflicts (default 32).</summary>
    [Parameter]
    [ValidateRange(1, 1000)]
    public int MaxAttempts { get; set; } = 32;

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        if (!ShouldProcess("xenstore", "Run a script block in a transaction"))
        {
            return;
        }

        var options = new XenstoreTransactionOptions { MaxAttempts = MaxAttempts };
        XenstoreClient store;
        try
        {
            store = ResolveStore();
        }
        catch (Exception e) when (ErrorRecords.IsReportable(e))
        {
            WriteError(ErrorRecords.FromException(e, "xenstore"));
            return;
        }

        Run(async cancellationToken =>
        {
            int attempt = 0;
            Collection<PSObject> output = await store.RunInTransactionAsync(async (transaction, ct) =>
            {
                var scope = new XenstoreTransactionScope(transaction, ++attempt, ct);
                try
                {
                    // The script block runs on the pipeline thread; its output is kept until the commit succeeds, so
                    // that a run undone by a conflict writes nothing.
                    return await OnPipelineAsync(() => ScriptBlock.InvokeWithContext(null, [new PSVariable("Transaction", scope)], scope)).ConfigureAwait(false);
                }
                catch (RuntimeException e) when (FindXenstoreError(e) is { } inner)
                {
                    // A request of the script failed: pass on the xenstore error itself, so that a conflict (EAGAIN)
                    // is retried like one at commit, and other errors keep their ids.
                    throw inner;
                }
            }, options, cancellationToken).ConfigureAwait(false);
            foreach (PSObject item in output)
            {
                await EmitAsync(item).ConfigureAwait(false);
            }
        }, store.Endpoint);
    }

    private static XenstoreException? FindXenstoreError(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is XenstoreException xenstore)
            {
                return xenstore;
            }
        }

        return null;
    }
}
