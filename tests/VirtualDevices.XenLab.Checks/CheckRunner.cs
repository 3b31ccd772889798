using System.Diagnostics;

namespace VirtualDevices.XenLab.Checks;

/// <summary>
/// Runs named checks one after the other, each bounded in time, and prints one line per check on stdout:
/// "name&lt;TAB&gt;pass|fail|skip&lt;TAB&gt;message" (the format tests/Lab/xen-lab.sh collects). A check passes when its
/// body returns (its return value is the message), is skipped when it throws <see cref="SkipException"/>, and fails
/// on any other exception or when it outlives its time limit.
/// </summary>
internal sealed class CheckRunner
{
    private static readonly TimeSpan DefaultLimit = TimeSpan.FromSeconds(60);

    public int Failed { get; private set; }

    public async Task RunAsync(string name, Func<CancellationToken, Task<string>> body, TimeSpan? limit = null)
    {
        using var cts = new CancellationTokenSource(limit ?? DefaultLimit);
        var watch = Stopwatch.StartNew();
        string status, message;
        try
        {
            Task<string> run = body(cts.Token);
            Task finished = await Task.WhenAny(run, Task.Delay(Timeout.Infinite, cts.Token).ContinueWith(_ => { }, TaskScheduler.Default)).ConfigureAwait(false);
            if (finished != run)
            {
                throw new TimeoutException($"did not finish within {(limit ?? DefaultLimit).TotalSeconds} s");
            }

            message = await run.ConfigureAwait(false);
            status = "pass";
        }
        catch (SkipException e)
        {
            status = "skip";
            message = e.Message;
        }
        catch (Exception e)
        {
            status = "fail";
            message = Describe(e);
            Failed++;
        }

        Emit(name, status, $"{message} ({watch.Elapsed.TotalMilliseconds:F0} ms)");
    }

    public static void Emit(string name, string status, string message) =>
        Console.Out.WriteLine($"{name}\t{status}\t{Clean(message)}");

    private static string Describe(Exception e)
    {
        if (e is AggregateException { InnerExceptions.Count: 1 } aggregate)
        {
            e = aggregate.InnerExceptions[0];
        }

        string text = $"{e.GetType().Name}: {e.Message}";
        if (e is VirtualDevices.Xen.Xenstore.XenstoreException xs)
        {
            text += $" [{xs.ErrorName}]";
        }

        // The first frames of our own code say where; the whole trace goes to stderr (the command's log).
        Console.Error.WriteLine(e);
        string? frame = e.StackTrace?.Split('\n').FirstOrDefault(l => l.Contains("VirtualDevices", StringComparison.Ordinal))?.Trim();
        return frame is null ? text : $"{text} {frame}";
    }

    private static string Clean(string text) => text.Replace('\t', ' ').Replace('\r', ' ').Replace('\n', ' ');
}
