namespace VirtualDevices.Tests.XenLab;

/// <summary>
/// How the lab's result file and environment become test results: a lab that did not run, was opted out or cannot
/// run on this host shows as skipped with its reason (never as passed), and a broken result file fails.
/// </summary>
public sealed class XenLabResultsTests
{
    private static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void SkipReason_NoVariables_SaysTheLabDidNotRun()
    {
        string? reason = XenLabResults.SkipReasonFor(Environment());

        Assert.NotNull(reason);
        Assert.Contains("did not run here", reason);
        Assert.Contains(XenLabResults.ResultsVariable, reason);
    }

    [Fact]
    public void SkipReason_OptedOut_NamesTheVariable_EvenWithResults()
    {
        string? reason = XenLabResults.SkipReasonFor(Environment(
            (XenLabResults.OptOutVariable, "0"), (XenLabResults.ResultsVariable, "/tmp/results.txt")));

        Assert.Equal("the Xen lab was opted out (VIRTUALDEVICES_XEN_LAB=0)", reason);
    }

    [Fact]
    public void SkipReason_HostCannotRunIt_GivesTheHostsReason()
    {
        string? reason = XenLabResults.SkipReasonFor(Environment(
            (XenLabResults.OptOutVariable, "1"), (XenLabResults.CannotRunVariable, "not root (uid 1000)")));

        Assert.Equal("the Xen lab cannot run on this host: not root (uid 1000)", reason);
    }

    [Fact]
    public void SkipReason_ResultsNamed_IsNull()
    {
        Assert.Null(XenLabResults.SkipReasonFor(Environment(
            (XenLabResults.OptOutVariable, "1"), (XenLabResults.ResultsVariable, "/tmp/results.txt"))));
    }

    [Fact]
    public void Read_MissingFile_IsOneFailure()
    {
        using var dir = new TempDirectory();

        XenLabCheck check = Assert.Single(XenLabResults.Read(dir.File("results.txt")));

        Assert.Equal(("lab.results", "fail"), (check.Name, check.Status));
        Assert.Contains("does not exist", check.Message);
    }

    [Fact]
    public void Read_EmptyFile_IsOneFailure()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("results.txt"), "\n");

        XenLabCheck check = Assert.Single(XenLabResults.Read(dir.File("results.txt")));

        Assert.Equal(("lab.results", "fail"), (check.Name, check.Status));
        Assert.Contains("no check lines", check.Message);
    }

    [Fact]
    public void Read_Lines_KeepStatusAndMessage_NumberRepeats_FailMalformedLines()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("results.txt"),
            "cxenstored/xenstore.socket.watch\tpass\tevent seen (12 ms)\n" +
            "oxenstored/lab.command.01\tfail\texit 1 after 3.0 s\n" +
            "cxenstored/xenstore.socket.watch\tskip\tno guest\n" +
            "garbage without tabs\n" +
            "name\tmaybe\tmessage\n");

        IReadOnlyList<XenLabCheck> checks = XenLabResults.Read(dir.File("results.txt"));

        Assert.Equal(
            [
                new XenLabCheck("cxenstored/xenstore.socket.watch", "pass", "event seen (12 ms)"),
                new XenLabCheck("oxenstored/lab.command.01", "fail", "exit 1 after 3.0 s"),
                new XenLabCheck("cxenstored/xenstore.socket.watch#2", "skip", "no guest"),
                new XenLabCheck("lab.results.line4", "fail", "malformed result line: garbage without tabs"),
                new XenLabCheck("lab.results.line5", "fail", "malformed result line: name\tmaybe\tmessage"),
            ],
            checks);
    }

    [Fact]
    public void Read_EachRoundThatCreatedTheGuest_MustReportEveryGuestCheck()
    {
        using var dir = new TempDirectory();
        string all = string.Concat(XenLabResults.GuestCheckNames.Select(n => $"oxenstored/{n}\tpass\tok\n"));
        string some = string.Concat(XenLabResults.GuestCheckNames.Take(3).Select(n => $"oxenstored/{n}\tfail\tno\n"));
        File.WriteAllText(dir.File("results.txt"),
            "cxenstored/lab.xen-start\tpass\txenstored\ncxenstored/guest.round\tskip\tno guest this round\n" +
            "oxenstored/lab.xen-start\tpass\toxenstored\noxenstored/lab.guest-create\tpass\tdomain 1 ready\n" + all);
        File.WriteAllText(dir.File("short.txt"),
            "oxenstored/lab.xen-start\tpass\toxenstored\noxenstored/lab.guest-create\tpass\tdomain 1 ready\n" + some);
        File.WriteAllText(dir.File("none.txt"), "cxenstored/lab.xen-start\tpass\txenstored\n");

        IReadOnlyList<XenLabCheck> checks = XenLabResults.Read(dir.File("results.txt"));
        Assert.Equal("pass", Assert.Single(checks, c => c.Name.EndsWith("lab.guest-checks", StringComparison.Ordinal)).Status);

        XenLabCheck missing = Assert.Single(XenLabResults.Read(dir.File("short.txt")), c => c.Name == "oxenstored/lab.guest-checks");
        Assert.Equal("fail", missing.Status);
        Assert.Contains("guest.ring-guest-front", missing.Message);
        Assert.DoesNotContain("guest.peer-ready", missing.Message);

        XenLabCheck never = Assert.Single(XenLabResults.Read(dir.File("none.txt")), c => c.Name == "lab.guest-checks");
        Assert.Equal("fail", never.Status);
    }
}
