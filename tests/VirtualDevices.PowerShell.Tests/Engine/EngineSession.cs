using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace VirtualDevices.PowerShell.Tests.Engine;

/// <summary>
/// One PowerShell session in this process, as a user gets it: a runspace of <c>InitialSessionState.CreateDefault2()</c>
/// (the built-in modules, formatting included) with the built module of <c>out/VirtualDevices</c> imported, and its
/// current location in a temp directory of its own. Microsoft.PowerShell.Utility and .Management (Select-Object,
/// Format-*, Out-String, Get-Item, Set-Content...) are imported up front, as they are in a user's session the moment a
/// command of theirs is used.
/// </summary>
/// <remarks>
/// A session per test: the module keeps its devices, servers and xenstore per runspace, so a test that shares a
/// runspace with another would see its devices (names such as memory0 depend on what was opened before) and leak
/// into it on failure. Opening one costs ~30 ms once the module assembly is loaded, and closing the runspace closes
/// everything the module opened in it. Relative paths (images, sockets) land in <see cref="Directory"/>, so classes
/// running in parallel never share a file or a unix socket, and nothing listens on a TCP port.
/// </remarks>
public sealed class EngineSession : IDisposable
{
    /// <summary>How long one script may run unless a test says otherwise: far above what any case needs (well under 1 s).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private static readonly Lazy<InitialSessionState> s_state = new(CreateState);
    private static readonly object s_createGate = new();
    private readonly Runspace _runspace;

    private EngineSession(Runspace runspace, string directory)
    {
        _runspace = runspace;
        Directory = directory;
    }

    /// <summary>This session's own directory (its current location); removed on dispose.</summary>
    public string Directory { get; }

    /// <summary>Opens a session with the module imported and its location in a new temp directory.</summary>
    public static EngineSession Open()
    {
        // Short, so that unix socket paths under it stay far below the 108-byte sun_path limit.
        string directory = Path.Combine("/tmp", "vd-eng-" + Guid.NewGuid().ToString("N")[..10]);
        System.IO.Directory.CreateDirectory(directory);
        Runspace runspace;
        lock (s_createGate)
        {
            runspace = RunspaceFactory.CreateRunspace(s_state.Value);
        }

        var session = new EngineSession(runspace, directory);
        try
        {
            runspace.Open();
            runspace.SessionStateProxy.Path.SetLocation(WildcardPattern.Escape(directory));
        }
        catch
        {
            session.Dispose();
            throw;
        }

        return session;
    }

    /// <summary>
    /// Runs <paramref name="script"/> at the session's top level (its variables stay for the next run) and returns
    /// what each stream got. A terminating error ends the script and is returned as <see cref="ScriptResult.Terminating"/>
    /// (the script runs inside <c>try</c>, so statement- and script-terminating errors alike are caught, and
    /// non-terminating ones are not). Past <paramref name="timeout"/> the pipeline is stopped and a
    /// <see cref="TimeoutException"/> thrown.
    /// </summary>
    /// <param name="script">The script, as a user types it.</param>
    /// <param name="timeout">The bound; <see cref="DefaultTimeout"/> when null.</param>
    /// <param name="arguments">Values the script sees as <c>$args</c>.</param>
    public ScriptResult Run(string script, TimeSpan? timeout = null, params object?[] arguments) => Run(script, true, timeout, arguments);

    /// <summary>
    /// Runs <paramref name="script"/> without the <c>try</c> of <see cref="Run(string, TimeSpan?, object?[])"/>, as a
    /// host does: a terminating error escapes to the host as an exception, returned as
    /// <see cref="ScriptResult.TerminatingException"/> (for <c>-ErrorAction Stop</c>, the ActionPreferenceStopException
    /// that carries the record).
    /// </summary>
    /// <param name="script">The script.</param>
    /// <param name="timeout">The bound; <see cref="DefaultTimeout"/> when null.</param>
    public ScriptResult RunUncaught(string script, TimeSpan? timeout = null) => Run(script, false, timeout, []);

    private ScriptResult Run(string script, bool catchTerminating, TimeSpan? timeout, object?[] arguments)
    {
        using System.Management.Automation.PowerShell ps = System.Management.Automation.PowerShell.Create();
        ps.Runspace = _runspace;

        // Dot-sourced so that the script's variables and functions stay in the session; created inside the runspace
        // so that a parse error is a terminating error of the run like any other.
        ps.AddScript(
            catchTerminating
                ? """
                  $__vdTerminating = $null
                  $__vdArguments = $args[1]
                  try { . ([scriptblock]::Create($args[0])) @__vdArguments } catch { $__vdTerminating = $_ }
                  """
                : """
                  $__vdTerminating = $null
                  $__vdArguments = $args[1]
                  . ([scriptblock]::Create($args[0])) @__vdArguments
                  """,
            useLocalScope: false);
        ps.AddArgument(script);
        ps.AddArgument(arguments);
        var output = new PSDataCollection<PSObject>();
        var stopwatch = Stopwatch.StartNew();
        IAsyncResult pending = ps.BeginInvoke<PSObject, PSObject>(null, output);
        TimeSpan bound = timeout ?? DefaultTimeout;
        if (!pending.AsyncWaitHandle.WaitOne(bound))
        {
            IAsyncResult stopping = ps.BeginStop(null, null);
            bool stopped = stopping.AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(10));
            throw new TimeoutException($"the script did not end within {bound.TotalSeconds:0.#} s ({(stopped ? "stopped" : "it did not even stop within 10 s")}):{Environment.NewLine}{script}");
        }

        ErrorRecord? terminating = null;
        RuntimeException? escaped = null;
        try
        {
            ps.EndInvoke(pending);
        }
        catch (RuntimeException e)
        {
            // What escapes the try of the wrapper (a pipeline stopped from outside, an engine failure), or any
            // terminating error of an uncaught run.
            terminating = e.ErrorRecord;
            escaped = e;
        }

        stopwatch.Stop();
        if (terminating is null && _runspace.SessionStateProxy.GetVariable("__vdTerminating") is { } caught)
        {
            terminating = caught as ErrorRecord ?? (caught as PSObject)?.BaseObject as ErrorRecord;
        }

        return new ScriptResult(
            output.ToList(),
            ps.Streams.Error.ToList(),
            terminating,
            ps.Streams.Progress.ToList(),
            ps.Streams.Warning.ToList(),
            ps.Streams.Verbose.ToList(),
            ps.Streams.Information.ToList(),
            stopwatch.Elapsed)
        {
            TerminatingException = escaped,
        };
    }

    /// <summary>Runs <paramref name="script"/> and fails unless it ran without any error; returns its output.</summary>
    /// <param name="script">The script.</param>
    /// <param name="arguments">Values the script sees as <c>$args</c>.</param>
    public IReadOnlyList<PSObject> RunClean(string script, params object?[] arguments)
    {
        ScriptResult result = Run(script, null, arguments);
        Assert.True(result.Terminating is null && result.Errors.Count == 0, $"{script}{Environment.NewLine}{result.Describe()}");
        return result.Output;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        // Closing the runspace closes every device and server the module opened in it.
        _runspace.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A socket or file still held: the temp directory is left behind, nothing else is affected.
        }
    }

    private static InitialSessionState CreateState()
    {
        InitialSessionState state = InitialSessionState.CreateDefault2();
        state.ImportPSModule(Path.Combine(ModuleLayout.ModuleDirectory, "VirtualDevices.psd1"));

        // Autoloaded otherwise, in every session anew, on the first Select-Object or Out-String: that discovery costs
        // about as much as the rest of a case (a binding case took ~135 ms with it, ~65 ms without, at 2 cores).
        state.ImportPSModule("Microsoft.PowerShell.Utility", "Microsoft.PowerShell.Management");
        state.ThrowOnRunspaceOpenError = true;
        return state;
    }
}
