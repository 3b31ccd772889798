using System.Management.Automation;
using System.Threading.Channels;
using VirtualDevices.PowerShell.Infrastructure;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

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
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (timeout is TimeSpan t)
            {
                deadline.CancelAfter(t);
            }

            // Back-pressure end to end: the merge holds one event, so a slow consumer stops the pumps, and each watch's
            // own bounded buffer (WatchEventCapacity, 4096 by default) then drops its oldest events and counts them.
            // (An unbounded merge here grew without limit under a write storm while no drop was ever counted.)
            var events = Channel.CreateBounded<XenstoreWatchEvent>(new BoundedChannelOptions(1) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
            var watches = new List<XenstoreWatch>();
            var pumps = new List<Task>();
            try
            {
                foreach (string path in paths)
                {
                    XenstoreWatch watch = await store.WatchAsync(path, deadline.Token).ConfigureAwait(false);
                    watches.Add(watch);
                    pumps.Add(PumpAsync(watch, events.Writer, deadline.Token));
                }

                int written = 0;
                long droppedSeen = 0;
                await foreach (XenstoreWatchEvent e in events.Reader.ReadAllAsync(deadline.Token).ConfigureAwait(false))
                {
                    long dropped = Dropped(watches);
                    if (dropped > 0 && droppedSeen == 0)
                    {
                        // Said at once, as a stream stopped with Ctrl+C never reaches its end.
                        EmitWarning($"Changes arrive faster than they are consumed: the oldest are being dropped ({dropped} so far; up to {watches[0].Capacity} are kept a path).");
                    }

                    XenstoreChange change = await DescribeAsync(store, e, includeValue, dropped - droppedSeen, deadline.Token).ConfigureAwait(false);
                    droppedSeen = dropped;
                    if (!waiting)
                    {
                        await EmitAsync(change).ConfigureAwait(false);
                        if (++written >= limit)
                        {
                            return;
                        }

                        continue;
                    }

                    if (await ConditionHoldsAsync(change, paths[0]).ConfigureAwait(false))
                    {
                        Emit(change);
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The -Timeout ran out: a stream simply ends; a wait has failed.
                if (waiting)
                {
                    throw new DeviceException("XenstoreWaitTimeout", DeviceErrorCategory.OperationTimeout,
                        $"The condition on {string.Join(", ", paths)} did not hold within {timeout!.Value.TotalSeconds} s.", XenstoreException.XenstoreDeviceName);
                }
            }
            finally
            {
                await deadline.CancelAsync().ConfigureAwait(false);
                foreach (XenstoreWatch watch in watches)
                {
                    await watch.DisposeAsync().ConfigureAwait(false);
                }

                await Task.WhenAll(pumps).ConfigureAwait(false);
                if (Dropped(watches) is > 0 and long total && !cancellationToken.IsCancellationRequested)
                {
                    EmitWarning($"{total} change(s) were dropped because they arrived faster than they were consumed.");
                }
            }
        }, string.Join(", ", paths));
    }

    private static long Dropped(List<XenstoreWatch> watches)
    {
        long dropped = 0;
        foreach (XenstoreWatch watch in watches)
        {
            dropped += watch.DroppedEvents;
        }

        return dropped;
    }

    private static async Task PumpAsync(XenstoreWatch watch, ChannelWriter<XenstoreWatchEvent> events, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (XenstoreWatchEvent e in watch.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                await events.WriteAsync(e, cancellationToken).ConfigureAwait(false);
            }

            // The watch ended without being stopped: its connection is gone, and so is the command's purpose.
            events.TryComplete(new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"the watch on {watch.Path} ended: the connection closed"));
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            events.TryComplete(e);
        }
    }

    private static async Task<XenstoreChange> DescribeAsync(XenstoreClient store, XenstoreWatchEvent e, bool includeValue, long droppedBefore, CancellationToken cancellationToken)
    {
        if (!includeValue || e.Path.StartsWith('@'))
        {
            return new XenstoreChange(DateTimeOffset.Now, e.Path, e.Token, null, null) { DroppedBefore = droppedBefore };
        }

        string? value = await store.TryReadStringAsync(e.Path, cancellationToken).ConfigureAwait(false);
        return new XenstoreChange(DateTimeOffset.Now, e.Path, e.Token, value is not null, value) { DroppedBefore = droppedBefore };
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
