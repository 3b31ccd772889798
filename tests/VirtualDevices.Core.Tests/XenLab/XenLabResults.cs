namespace VirtualDevices.Tests.XenLab;

/// <summary>
/// The result file of the Xen lab (tests/Lab/run-checks.sh, run by .ci/run before this suite): one line per check,
/// "name&lt;TAB&gt;pass|fail|skip&lt;TAB&gt;message". VIRTUALDEVICES_XEN_LAB_RESULTS names the file when the lab was
/// supposed to run; VIRTUALDEVICES_XEN_LAB=0 says it was opted out; VIRTUALDEVICES_XEN_LAB_SKIP says why this host
/// cannot run it (.ci/run checks: root, disk space, QEMU). Without any of them the lab did not run here (a developer's
/// dotnet test). In those cases its checks show as one skipped test giving the reason, never as passed.
/// </summary>
internal static class XenLabResults
{
    public const string ResultsVariable = "VIRTUALDEVICES_XEN_LAB_RESULTS";
    public const string OptOutVariable = "VIRTUALDEVICES_XEN_LAB";
    public const string CannotRunVariable = "VIRTUALDEVICES_XEN_LAB_SKIP";

    /// <summary>Why the lab's checks are skipped as a whole, or null when its results must be read.</summary>
    public static string? SkipReason => SkipReasonFor(Environment.GetEnvironmentVariable);

    /// <summary>
    /// Why the lab's checks are skipped as a whole, given the environment (a variable's value or null): the opt-out
    /// first, then a host that cannot run the lab, then a lab that did not run at all; null when results must be read.
    /// </summary>
    public static string? SkipReasonFor(Func<string, string?> variable)
    {
        if (variable(OptOutVariable) == "0")
        {
            return $"the Xen lab was opted out ({OptOutVariable}=0)";
        }

        if (variable(CannotRunVariable) is { Length: > 0 } why)
        {
            return $"the Xen lab cannot run on this host: {why}";
        }

        return string.IsNullOrEmpty(variable(ResultsVariable))
            ? $"the Xen lab did not run here ({ResultsVariable} is not set; tests/Lab/run-checks.sh or .ci/run runs it)"
            : null;
    }

    /// <summary>The check lines of the file VIRTUALDEVICES_XEN_LAB_RESULTS names (see <see cref="Read(string)"/>).</summary>
    public static IReadOnlyList<XenLabCheck> Read() => Read(Environment.GetEnvironmentVariable(ResultsVariable)!);

    /// <summary>The check lines; a missing, empty or malformed file becomes one failing line saying so.</summary>
    public static IReadOnlyList<XenLabCheck> Read(string path)
    {
        if (!File.Exists(path))
        {
            return [new XenLabCheck("lab.results", "fail", $"the lab was supposed to run but {path} does not exist")];
        }

        var checks = new List<XenLabCheck>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (line.Length == 0)
            {
                continue;
            }

            string[] fields = line.Split('\t', 3);
            if (fields.Length < 2 || fields[1] is not ("pass" or "fail" or "skip"))
            {
                checks.Add(new XenLabCheck($"lab.results.line{number}", "fail", $"malformed result line: {line}"));
                continue;
            }

            // A name seen twice (a check run in two places) stays two results: number the repeats.
            string name = fields[0];
            seen[name] = seen.GetValueOrDefault(name) + 1;
            if (seen[name] > 1)
            {
                name += $"#{seen[name]}";
            }

            checks.Add(new XenLabCheck(name, fields[1], fields.Length > 2 ? fields[2] : ""));
        }

        if (checks.Count == 0)
        {
            return [new XenLabCheck("lab.results", "fail", $"{path} holds no check lines")];
        }

        checks.AddRange(GuestChecksPresent(checks).ToList());
        return checks;
    }

    /// <summary>
    /// The dom0&lt;-&gt;guest checks (tests/VirtualDevices.XenLab.Devices/GuestChecks.cs) every round that created the
    /// guest must have reported: a round whose lines stop short of them (a program that died) fails here by name,
    /// beside whatever failed there.
    /// </summary>
    public static readonly string[] GuestCheckNames =
    [
        "guest.peer-ready", "guest.guest-grants-dom0-maps", "guest.grant-copy", "guest.dom0-grants-guest-maps",
        "guest.end-while-guest-maps", "guest.events-dom0-to-guest", "guest.events-guest-to-dom0",
        "guest.ring-dom0-front", "guest.ring-guest-front",
        "guest.netfront-connects", "guest.netfront-transmits", "guest.netfront-receives",
        "guest.netfront-closes-from-the-guest", "guest.netfront-closes-from-dom0",
    ];

    /// <summary>
    /// One "lab.guest-checks" line per round (its daemon's prefix) that created the guest (a lab.guest-create line):
    /// pass when every guest check is there; and a failing one when Xen started but no round had the guest.
    /// </summary>
    private static IEnumerable<XenLabCheck> GuestChecksPresent(List<XenLabCheck> checks)
    {
        var names = new HashSet<string>(checks.Select(c => c.Name), StringComparer.Ordinal);
        int rounds = 0;
        foreach (XenLabCheck create in checks.Where(c => c.Name.EndsWith("lab.guest-create", StringComparison.Ordinal)))
        {
            rounds++;
            string prefix = create.Name[..^"lab.guest-create".Length];
            string[] missing = [.. GuestCheckNames.Where(n => !names.Contains(prefix + n))];
            yield return missing.Length == 0
                ? new XenLabCheck($"{prefix}lab.guest-checks", "pass", $"all {GuestCheckNames.Length} dom0<->guest checks reported")
                : new XenLabCheck($"{prefix}lab.guest-checks", "fail", $"no result for {string.Join(", ", missing)}");
        }

        if (rounds == 0 && checks.Any(c => c.Name.EndsWith("lab.xen-start", StringComparison.Ordinal) && c.Status == "pass"))
        {
            yield return new XenLabCheck("lab.guest-checks", "fail", "Xen started but no round created the guest (lab.guest-create): the dom0<->guest checks never ran");
        }
    }
}
