namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Watches xenstore paths and writes an event for every change, or waits until a condition holds.</para>
/// </summary>
[Cmdlet(VerbsCommon.Watch, "XenstorePath", DefaultParameterSetName = StreamSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Watch-XenstorePath.md")]
[OutputType(typeof(XenstoreChange))]
public sealed class WatchXenstorePathCommand : XenstoreCommand
{
    private const string StreamSet = "Stream";
    private const string UntilSet = "Until";
    private const string UntilValueSet = "UntilValue";
    private readonly List<string> _paths = [];

    /// <summary>The paths to watch; a watch covers the node and everything below it. Special paths such as @releaseDomain are allowed.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("NodePath")]
    [ArgumentCompleter(typeof(XenstorePathCompleter))]
    public string[] Path { get; set; } = null!;

    /// <summary>Read each changed node and include whether it exists and its value.</summary>
    [Parameter]
    public SwitchParameter IncludeValue { get; set; }

    /// <summary>Stop after this many events.</summary>
    [Parameter(ParameterSetName = StreamSet)]
    [ValidateRange(1, int.MaxValue)]
    public int Count { get; set; }

    /// <summary>Seconds to watch (streaming: then stop quietly) or to wait (-Until/-UntilValue: then fail with a timeout error).</summary>
    [Parameter]
    [ValidateRange(0.001, 31536000.0)]
    public double Timeout { get; set; }

    /// <summary>Wait until this script block returns true for an event ($_ is the event, with its value); write that event and stop.</summary>
    [Parameter(Mandatory = true, ParameterSetName = UntilSet)]
    public ScriptBlock Until { get; set; } = null!;

    /// <summary>Wait until the first watched path has this value; write that event and stop.</summary>
    [Parameter(Mandatory = true, ParameterSetName = UntilValueSet)]
    [AllowEmptyString]
    public string UntilValue { get; set; } = null!;

    /// <inheritdoc/>
    protected override void ProcessRecord() => _paths.AddRange(Path);

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        // One watch command watches one store: every path must name the same one.
        var located = new List<(XenstoreClient Store, string Node)>();
        foreach (string item in _paths)
        {
            if (TryLocate(item, out XenstoreClient s, out string node))
            {
                located.Add((s, node));
            }
        }

        if (located.Count == 0)
        {
            return;
        }

        XenstoreClient store = located[0].Store;
        if (located.Any(l => !ReferenceEquals(l.Store, store)))
        {
            ThrowTerminatingError(ErrorRecords.FromException(new ArgumentException("All the paths of one Watch-XenstorePath must be on the same xenstore."), _paths));
        }

        string[] paths = located.Select(l => l.Node).ToArray();
        bool waiting = ParameterSetName != StreamSet;
        bool includeValue = IncludeValue || waiting;
        int limit = MyInvocation.BoundParameters.ContainsKey(nameof(Count)) ? Count : int.MaxValue;
        TimeSpan? timeout = MyInvocation.BoundParameters.ContainsKey(nameof(Timeout)) ? TimeSpan.FromSeconds(Timeout) : null;
        Run(async cancellationToken =>
        {
            // The core does the watching, the merging with bounded back-pressure and the time limit; the command
            // writes what comes and says when changes were dropped.
            XenstoreWatcher watcher = await XenstoreWatcher.StartAsync(store, paths,
                new XenstoreWatcherOptions { IncludeValue = includeValue, Timeout = timeout }, cancellationToken).ConfigureAwait(false);
            await using (watcher.ConfigureAwait(false))
            {
                bool warned = false;
                void NoteDrops(XenstoreChange change)
                {
                    if (change.DroppedBefore > 0 && !warned)
                    {
                        // Said at once, as a stream stopped with Ctrl+C never reaches its end.
                        warned = true;
                        EmitWarning($"Changes arrive faster than they are consumed: the oldest are being dropped ({watcher.DroppedChanges} so far; up to {watcher.Capacity} are kept a path).");
                    }
                }

                try
                {
                    if (waiting)
                    {
                        XenstoreChange satisfied = await watcher.WaitUntilAsync(async (change, _) =>
                        {
                            NoteDrops(change);
                            return await ConditionHoldsAsync(change, paths[0]).ConfigureAwait(false);
                        }, cancellationToken).ConfigureAwait(false);
                        Emit(satisfied);
                        return;
                    }

                    int written = 0;
                    await foreach (XenstoreChange change in watcher.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                    {
                        NoteDrops(change);
                        await EmitAsync(change).ConfigureAwait(false);
                        if (++written >= limit)
                        {
                            return;
                        }
                    }
                }
                finally
                {
                    if (watcher.DroppedChanges is > 0 and long total && !cancellationToken.IsCancellationRequested)
                    {
                        EmitWarning($"{total} change(s) were dropped because they arrived faster than they were consumed.");
                    }
                }
            }
        }, string.Join(", ", paths));
    }

    private async Task<bool> ConditionHoldsAsync(XenstoreChange change, string firstPath)
    {
        if (ParameterSetName == UntilValueSet)
        {
            return change.NodePath == firstPath && change.Value == UntilValue;
        }

        // Script blocks belong to the pipeline thread's runspace: evaluate there.
        return await OnPipelineAsync(() =>
        {
            var results = Until.InvokeWithContext(null, [new PSVariable("_", change)], change);
            return results.Count > 0 && LanguagePrimitives.IsTrue(results[^1]);
        }).ConfigureAwait(false);
    }
}
