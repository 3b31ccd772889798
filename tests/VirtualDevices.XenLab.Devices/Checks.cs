using System.Diagnostics;

namespace VirtualDevices.XenLab.Devices;

/// <summary>
/// Runs named checks one after the other, each bounded in time, printing one line per check on stdout:
/// "name&lt;TAB&gt;pass|fail|skip&lt;TAB&gt;message", the format tests/Lab/xen-lab.sh collects. A check passes when its
/// body returns (the value is the message), is skipped on <see cref="SkipCheckException"/>, and fails on any other
/// exception or when it outlives its limit (its thread is then abandoned: the program's own time limit ends it).
/// </summary>
internal sealed class Checks
{
    private static readonly TimeSpan DefaultLimit = TimeSpan.FromSeconds(60);

    public int Failed { get; private set; }

    public int Run(string name, Func<string> body, TimeSpan? limit = null)
    {
        var watch = Stopwatch.StartNew();
        string status;
        string message;
        try
        {
            Task<string> run = Task.Factory.StartNew(body, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (!run.Wait(limit ?? DefaultLimit))
            {
                throw new TimeoutException($"did not finish within {(limit ?? DefaultLimit).TotalSeconds} s");
            }

            message = run.Result;
            status = "pass";
        }
        catch (Exception e) when (Unwrap(e) is SkipCheckException skip)
        {
            status = "skip";
            message = skip.Message;
        }
        catch (Exception e)
        {
            status = "fail";
            message = Describe(Unwrap(e));
            Failed++;
        }

        Console.Out.WriteLine($"{name}\t{status}\t{Clean(message)} ({watch.Elapsed.TotalMilliseconds:F0} ms)");
        Console.Out.Flush();
        return status == "pass" ? 0 : 1;
    }

    private static Exception Unwrap(Exception e) =>
        e is AggregateException { InnerExceptions.Count: 1 } aggregate ? Unwrap(aggregate.InnerExceptions[0]) : e;

    private static string Describe(Exception e)
    {
        string text = $"{e.GetType().Name}: {e.Message}";
        if (e is DeviceException device)
        {
            text += $" [{device.ErrorId}]";
        }

        // The first frame of our own code says where; the whole trace goes to stderr (the command's log).
        Console.Error.WriteLine(e);
        string? frame = e.StackTrace?.Split('\n').FirstOrDefault(l => l.Contains("VirtualDevices", StringComparison.Ordinal))?.Trim();
        return frame is null ? text : $"{text} {frame}";
    }

    private static string Clean(string text) => text.Replace('\t', ' ').Replace('\r', ' ').Replace('\n', ' ');
}
