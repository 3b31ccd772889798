using System.Diagnostics;
using System.Text;

namespace VirtualDevices.Tests.Infrastructure;

/// <summary>
/// A real peer (nbdkit, qemu-nbd, xenstore-read, a compiled C client...) run by a test: bounded in time, its output
/// captured, and killed with its whole process tree when the test ends.
/// </summary>
public sealed class ExternalProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private ExternalProcess(Process process)
    {
        _process = process;
    }

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>What the process printed on stdout so far.</summary>
    public string StandardOutput
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    /// <summary>What the process printed on stderr so far.</summary>
    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>The exit code; only after exit.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Starts a program in the background (for servers). Fails if the program is not installed.</summary>
    public static ExternalProcess Start(string fileName, IEnumerable<string> arguments, IDictionary<string, string>? environment = null, string? standardInput = null)
    {
        var info = new ProcessStartInfo(ResolveProgram(fileName))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            foreach ((string key, string value) in environment)
            {
                info.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = info };
        var result = new ExternalProcess(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (result._stdout) result._stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (result._stderr) result._stderr.AppendLine(e.Data); };
        Launcher.Run(() => process.Start());
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (standardInput is not null)
        {
            process.StandardInput.Write(standardInput);
        }

        process.StandardInput.Close();
        return result;
    }

    /// <summary>Runs a program to completion within <paramref name="timeout"/>; the process is killed if it overruns.</summary>
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan? timeout = null,
        IDictionary<string, string>? environment = null, string? standardInput = null)
    {
        await using ExternalProcess process = Start(fileName, arguments, environment, standardInput);
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(60);
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await process._process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish within {limit}.\nstdout: {process.StandardOutput}\nstderr: {process.StandardError}");
        }

        return new ProcessResult(process.ExitCode, process.StandardOutput, process.StandardError);
    }

    /// <summary>Waits for the process to exit.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Waits until a file (a unix socket, a pid file) exists, failing early if the process exits.</summary>
    public async Task WaitForFileAsync(string path, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(20);
        while (!File.Exists(path))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{_process.StartInfo.FileName} exited with {_process.ExitCode} before creating {path}.\nstderr: {StandardError}");
            }

            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"{path} did not appear within {limit}.\nstderr: {StandardError}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Waits until a TCP port on 127.0.0.1 accepts connections.</summary>
    public async Task WaitForTcpPortAsync(int port, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                using var client = new System.Net.Sockets.TcpClient();
                await client.ConnectAsync(System.Net.IPAddress.Loopback, port);
                return;
            }
            catch (System.Net.Sockets.SocketException) when (clock.Elapsed < limit && !_process.HasExited)
            {
                await Task.Delay(20);
            }
        }
    }

    /// <summary>Kills the process tree (SIGKILL) without waiting for a graceful exit.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    /// <summary>A free TCP port on 127.0.0.1 (bound and released; good enough for a test's own server).</summary>
    public static int FreeTcpPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Finds a program on PATH or at an absolute path; a missing peer is a failed test, never a skipped one.</summary>
    public static string ResolveProgram(string fileName)
    {
        if (fileName.Contains('/'))
        {
            return File.Exists(fileName) ? fileName : throw new FileNotFoundException($"{fileName} is not installed (.ci/run installs the test peers).", fileName);
        }

        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':'))
        {
            string candidate = Path.Combine(directory, fileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        foreach (string directory in new[] { "/usr/sbin", "/sbin", "/usr/bin" })
        {
            string candidate = Path.Combine(directory, fileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"{fileName} is not on PATH (.ci/run installs the test peers).", fileName);
    }
}

/// <summary>
/// Forks every peer from one thread that lives as long as the test process. Peers forked from a thread-pool thread
/// were seen dying of SIGTERM (nbdkit exiting with 143 within milliseconds) when that thread retired: the child
/// behaves as if its parent-death signal were tied to the forking thread, as PR_SET_PDEATHSIG is.
/// </summary>
internal static class Launcher
{
    private static readonly System.Collections.Concurrent.BlockingCollection<(Action Start, TaskCompletionSource Done)> s_queue = new();

    static Launcher()
    {
        var thread = new Thread(() =>
        {
            foreach ((Action start, TaskCompletionSource done) in s_queue.GetConsumingEnumerable())
            {
                try
                {
                    start();
                    done.SetResult();
                }
                catch (Exception e)
                {
                    done.SetException(e);
                }
            }
        })
        {
            IsBackground = true,
            Name = "process launcher",
        };
        thread.Start();
    }

    public static void Run(Action start)
    {
        var done = new TaskCompletionSource();
        s_queue.Add((start, done));
        done.Task.GetAwaiter().GetResult();
    }
}

/// <summary>The outcome of <see cref="ExternalProcess.RunAsync"/>.</summary>
public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Throws with the captured output unless the exit code is 0.</summary>
    public ProcessResult EnsureSuccess(string what)
    {
        if (ExitCode != 0)
        {
            throw new InvalidOperationException($"{what} exited with {ExitCode}.\nstdout: {StandardOutput}\nstderr: {StandardError}");
        }

        return this;
    }
}
