using System.Threading.Channels;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// A cmdlet whose work is asynchronous. PowerShell requires every Write*, ShouldProcess and progress call to happen
/// on the pipeline thread, so <see cref="Run"/> starts the work on the thread pool and pumps the calls it
/// queues back on the pipeline thread until it ends. <see cref="StopProcessing"/> (Ctrl+C, or a downstream
/// <c>Select-Object -First</c>) cancels <see cref="StopToken"/>, which every core call receives.
/// </summary>
/// <remarks>
/// Queuing never blocks the producing thread: that thread may be a driver's reader (xenstore and NBD replies complete
/// there), and blocking it while the pipeline waits on the same driver would deadlock. Streams use
/// <see cref="EmitAsync"/>, which waits asynchronously while too much output is queued.
/// </remarks>
public abstract class AsyncCmdlet : PSCmdlet, IDisposable
{
    /// <summary>Streamed output waiting for the pipeline thread; beyond it, <see cref="EmitAsync"/> waits for the consumer.</summary>
    private const int QueueCapacity = 64;

    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _room = new(QueueCapacity, QueueCapacity);
    private Channel<(Action Action, bool Counted)>? _queue;
    private ModuleSession? _session;
    private int _pipelineThread;

    /// <summary>Cancelled when the pipeline stops.</summary>
    protected CancellationToken StopToken => _stopping.Token;

    /// <summary>The module's state for this session (looked up on the pipeline thread, where the runspace is known).</summary>
    protected ModuleSession Session => _session ??= ModuleSession.Current;

    /// <summary>What this session owns: its devices and servers.</summary>
    protected Hosting.DeviceHost SessionHost => Session.Host;

    /// <inheritdoc/>
    protected override void StopProcessing() => _stopping.Cancel();

    /// <summary>
    /// Runs <paramref name="work"/> to completion while executing, on this (the pipeline) thread, the output it
    /// queues. A failure escaping the work is what <see cref="ErrorRecords.Classify"/> says: the current input's
    /// non-terminating error, a stop, or (a defect) the end of the command.
    /// </summary>
    /// <param name="work">The asynchronous part of the command.</param>
    /// <param name="target">The object errors are reported against.</param>
    protected void Run(Func<CancellationToken, Task> work, object? target = null)
    {
        var queue = Channel.CreateUnbounded<(Action Action, bool Counted)>(new UnboundedChannelOptions { SingleReader = true });
        _queue = queue;
        _pipelineThread = Environment.CurrentManagedThreadId;
        _session ??= ModuleSession.Current;
        Task task = Task.Run(() => work(_stopping.Token), _stopping.Token);
        _ = task.ContinueWith(static (_, q) => ((Channel<(Action, bool)>)q!).Writer.TryComplete(), queue, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            while (queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                while (queue.Reader.TryRead(out (Action Action, bool Counted) item))
                {
                    try
                    {
                        item.Action();
                    }
                    finally
                    {
                        if (item.Counted)
                        {
                            _room.Release();
                        }
                    }
                }
            }
        }
        catch
        {
            // Output failed (the pipeline is stopping, or a downstream command threw): stop the work and let it
            // finish, discarding what it still queues, before the exception goes on.
            _stopping.Cancel();
            task.ContinueWith(static _ => { }, TaskScheduler.Default).Wait();
            while (queue.Reader.TryRead(out (Action Action, bool Counted) item))
            {
                if (item.Counted)
                {
                    _room.Release();
                }
            }

            throw;
        }
        finally
        {
            _queue = null;
        }

        if (task.IsCompletedSuccessfully)
        {
            return;
        }

        Exception error = task.Exception?.GetBaseException() ?? new OperationCanceledException();
        switch (ErrorRecords.Classify(error, _stopping.IsCancellationRequested))
        {
            case ErrorDisposition.Stopped:
                throw new PipelineStoppedException();
            case ErrorDisposition.Reportable:
                // A script block the command ran (a transaction body, a condition) keeps its own error record, as it was.
                WriteError(error is RuntimeException { ErrorRecord: { } own } ? own : ErrorRecords.FromException(error, target));
                return;
            default:
                ThrowTerminatingError(ErrorRecords.FromException(error, target));
                return;
        }
    }

    /// <summary>
    /// ShouldProcess with the usual meaning of <c>-Force</c>: it skips the confirmation prompt (unless
    /// <c>-Confirm</c> is given explicitly) but never <c>-WhatIf</c>. Call it on the pipeline thread.
    /// </summary>
    /// <param name="target">What is changed.</param>
    /// <param name="action">How.</param>
    /// <param name="force">The value of the cmdlet's -Force switch.</param>
    protected bool ShouldChange(string target, string action, bool force)
    {
        if (force && !MyInvocation.BoundParameters.ContainsKey("Confirm"))
        {
            bool whatIf = MyInvocation.BoundParameters.TryGetValue("WhatIf", out object? value)
                ? value is SwitchParameter s && s.IsPresent
                : GetVariableValue("WhatIfPreference") is bool b ? b : (GetVariableValue("WhatIfPreference") as SwitchParameter?)?.IsPresent ?? false;
            return whatIf ? ShouldProcess(target, action) : true;
        }

        return ShouldProcess(target, action);
    }

    /// <summary>Writes an object from any thread, without waiting (for single results).</summary>
    /// <param name="value">The object.</param>
    protected void Emit(object? value) => OnPipeline(() => WriteObject(value));

    /// <summary>
    /// Writes one object of a stream from any thread; waits, asynchronously, while the pipeline has not taken the
    /// objects already queued, so a fast device does not outrun a slow consumer.
    /// </summary>
    /// <param name="value">The object.</param>
    protected async ValueTask EmitAsync(object? value)
    {
        Channel<(Action Action, bool Counted)>? queue = _queue;
        if (queue is null || Environment.CurrentManagedThreadId == _pipelineThread)
        {
            WriteObject(value);
            return;
        }

        await _room.WaitAsync(_stopping.Token).ConfigureAwait(false);
        if (!queue.Writer.TryWrite((() => WriteObject(value), true)))
        {
            _room.Release();
            _stopping.Token.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Writes a non-terminating error from any thread.</summary>
    /// <param name="error">The failure.</param>
    /// <param name="target">The object it concerns.</param>
    protected void EmitError(Exception error, object? target) => OnPipeline(() => WriteError(ErrorRecords.FromException(error, target)));

    /// <summary>Writes progress from any thread.</summary>
    /// <param name="record">The progress record.</param>
    protected void EmitProgress(ProgressRecord record) => OnPipeline(() => WriteProgress(record));

    /// <summary>Writes a verbose message from any thread.</summary>
    /// <param name="message">The message.</param>
    protected void EmitVerbose(string message) => OnPipeline(() => WriteVerbose(message));

    /// <summary>Writes a warning from any thread.</summary>
    /// <param name="message">The message.</param>
    protected void EmitWarning(string message) => OnPipeline(() => WriteWarning(message));

    /// <summary>Runs a function on the pipeline thread (for ShouldProcess, ShouldContinue) and returns its result.</summary>
    /// <param name="function">The function.</param>
    protected Task<T> OnPipelineAsync<T>(Func<T> function)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        // If the pipeline stops before the pump runs the function, the caller must not wait for it forever.
        CancellationTokenRegistration stopped = _stopping.Token.Register(static c => ((TaskCompletionSource<T>)c!).TrySetCanceled(), completion);
        _ = completion.Task.ContinueWith(_ => stopped.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        OnPipeline(() =>
        {
            try
            {
                completion.TrySetResult(function());
            }
            catch (Exception e)
            {
                completion.TrySetException(e);
                if (e is PipelineStoppedException or FlowControlException)
                {
                    throw; // the pipeline is stopping: the pump must stop too
                }
            }
        });
        return completion.Task;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the cancellation source.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stopping.Dispose();
            _room.Dispose();
        }
    }

    private void OnPipeline(Action action)
    {
        Channel<(Action Action, bool Counted)>? queue = _queue;
        if (queue is null || Environment.CurrentManagedThreadId == _pipelineThread)
        {
            action();
            return;
        }

        if (!queue.Writer.TryWrite((action, false)))
        {
            // The work has ended (the queue is complete): nothing can be written any more.
            _stopping.Token.ThrowIfCancellationRequested();
        }
    }
}
