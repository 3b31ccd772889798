using System.Diagnostics;
using System.Globalization;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.XenLab.Devices;

/// <summary>
/// dom0's side of the rendezvous with the guest's peer (tests/c/xen-guest/guest-peer.c) through xenstore, with our
/// client over xenstored's socket: a command "N VERB ARGS" written to the guest's data/lab/cmd, the answer "N ok ..."
/// or "N fail WHY" read back from data/lab/res (both nodes the guest made, so the guest owns them whatever the
/// daemon's rule for new nodes). The guest watches its command node; dom0 polls the answer every 10 ms.
/// </summary>
internal sealed class GuestPeer : IDisposable
{
    private static readonly TimeSpan DefaultAnswerLimit = TimeSpan.FromSeconds(30);

    private readonly XenstoreClient _xenstore;
    private readonly string _command;
    private readonly string _answer;
    private int _sequence;

    public GuestPeer(XenstoreClient xenstore, ushort domainId)
    {
        _xenstore = xenstore;
        DomainId = domainId;
        string home = XenstorePath.DomainPath(domainId);
        _command = home + "/data/lab/cmd";
        _answer = home + "/data/lab/res";
    }

    public ushort DomainId { get; }

    /// <summary>dom0's privileged connection (over xenstored's socket) the rendezvous runs on.</summary>
    public XenstoreClient Xenstore => _xenstore;

    /// <summary>Waits for the peer's "0 ready" (a "0 fail WHY" says which device did not open).</summary>
    public string WaitReady(TimeSpan limit)
    {
        string last = WaitFor(0, limit, "ready") ?? throw new CheckFailedException($"the guest's peer never answered on {_answer} within {limit.TotalSeconds} s (no guest-peer in the guest, or it died: see the guest's console log)");
        if (!last.StartsWith("0 ready", StringComparison.Ordinal))
        {
            throw new CheckFailedException($"the guest's peer: {last}");
        }

        return last;
    }

    /// <summary>Sends a command and returns its answer's words after "ok"; a "fail" answer fails the check.</summary>
    public string[] Call(string command, TimeSpan? limit = null) => Ok(Send(command), command, limit);

    /// <summary>Sends a command without waiting; <see cref="Ok"/> or <see cref="WaitFor"/> take its answer.</summary>
    public int Send(string command)
    {
        int n = ++_sequence;
        _xenstore.WriteAsync(_command, string.Create(CultureInfo.InvariantCulture, $"{n} {command}")).AsTask().GetAwaiter().GetResult();
        return n;
    }

    public string[] Ok(int n, string command, TimeSpan? limit = null, string? expected = "ok")
    {
        TimeSpan wait = limit ?? DefaultAnswerLimit;
        string answer = WaitFor(n, wait, expected) ?? throw new CheckFailedException($"the guest did not answer '{command}' within {wait.TotalSeconds} s");
        string[] words = answer.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length < 2 || words[1] != expected)
        {
            throw new CheckFailedException($"the guest answered '{command}' with '{answer}'");
        }

        return words[2..];
    }

    /// <summary>The answer to command n (any verb but "setup" unless that is expected), or null after the limit.</summary>
    private string? WaitFor(int n, TimeSpan limit, string? expected)
    {
        string prefix = string.Create(CultureInfo.InvariantCulture, $"{n} ");
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < limit)
        {
            string? answer = _xenstore.TryReadStringAsync(_answer).AsTask().GetAwaiter().GetResult();
            if (answer is not null && answer.StartsWith(prefix, StringComparison.Ordinal)
                && (expected == "setup" || !answer.StartsWith(prefix + "setup", StringComparison.Ordinal))
                && !answer.StartsWith(prefix + "starting", StringComparison.Ordinal))
            {
                return answer;
            }

            Thread.Sleep(10);
        }

        return null;
    }

    public void Dispose() => _xenstore.Dispose();
}
