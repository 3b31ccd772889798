using VirtualDevices.HelpGenerator;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>
/// The Pester suites and every example in the docs call the cmdlets with parameters the compiled cmdlets really have:
/// a typo there would only show in a real PowerShell, which this machine does not have.
/// </summary>
public sealed class ScriptUsageTests
{
    /// <summary>Nouns of this module's family: a command with one of these that the module does not export is a typo.</summary>
    private static readonly string[] s_familyNouns = ["BlockDevice", "Nbd", "Xenstore", "DeviceStats", "Xen", "Vmnet"];

    public static TheoryData<string> Sources()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.EnumerateFiles(Path.Combine(ModuleLayout.RepoRoot, "tests", "Pester"), "*.ps1").Order())
        {
            data.Add(Path.GetRelativePath(ModuleLayout.RepoRoot, file));
        }

        foreach (string file in Directory.EnumerateFiles(Path.Combine(ModuleLayout.RepoRoot, "docs"), "*.md", SearchOption.AllDirectories).Order())
        {
            data.Add(Path.GetRelativePath(ModuleLayout.RepoRoot, file));
        }

        data.Add("README.md");
        return data;
    }

    [Theory]
    [MemberData(nameof(Sources))]
    public void CallsUseRealCmdletsAndParameters(string relativePath)
    {
        string text = File.ReadAllText(Path.Combine(ModuleLayout.RepoRoot, relativePath));
        string code = relativePath.EndsWith(".md", StringComparison.Ordinal) ? ScriptUsageScanner.CodeOfMarkdown(text) : text;
        Dictionary<string, CmdletMetadata> cmdlets = ModuleLayout.Cmdlets.ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);
        var problems = new List<string>();
        IReadOnlySet<string> functions = ScriptUsageScanner.DefinedFunctions(code);
        int checkedCalls = 0;
        foreach (ScriptUsageScanner.Invocation call in ScriptUsageScanner.Invocations(relativePath, code))
        {
            if (!cmdlets.TryGetValue(call.Command, out CmdletMetadata? cmdlet))
            {
                string noun = call.Command[(call.Command.IndexOf('-', StringComparison.Ordinal) + 1)..];
                if (s_familyNouns.Any(f => noun.Contains(f, StringComparison.Ordinal)) && !functions.Contains(call.Command))
                {
                    problems.Add($"{relativePath}:{call.Line}: {call.Command} is not a cmdlet of the module");
                }

                continue;
            }

            checkedCalls++;
            if (!call.Command.Equals(cmdlet.Name, StringComparison.Ordinal))
            {
                problems.Add($"{relativePath}:{call.Line}: {call.Command} is spelled {cmdlet.Name}");
            }

            foreach (string parameter in call.Parameters)
            {
                if (ScriptUsageScanner.Check(cmdlet, parameter) is { } problem)
                {
                    problems.Add($"{relativePath}:{call.Line}: {problem}");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));

        // A scanner that stopped seeing calls would pass everything: every suite and cmdlet page has some.
        string page = Path.GetFileNameWithoutExtension(relativePath);
        if (relativePath.EndsWith(".ps1", StringComparison.Ordinal) || cmdlets.ContainsKey(page))
        {
            Assert.True(checkedCalls >= 2, $"{relativePath}: only {checkedCalls} calls of the module's cmdlets found");
        }
    }

    /// <summary>Error ids that PowerShell itself raises (parameter binding, providers), not the module.</summary>
    private static readonly string[] s_engineErrorIds =
        ["ParameterArgumentValidationError", "ParameterArgumentTransformationError", "InputObjectNotBound", "PathNotFound",
         "NamedParameterNotFound", "MissingMandatoryParameter", "AmbiguousParameterSet", "CommandNotFoundException"];

    [Fact]
    public void ErrorIdsThePesterSuitesExpectAreRaisedByTheModule()
    {
        string sources = string.Join('\n', Directory.EnumerateFiles(Path.Combine(ModuleLayout.RepoRoot, "src"), "*.cs", SearchOption.AllDirectories)
            .Select(File.ReadAllText));
        var commandTypes = ModuleLayout.Cmdlets.Select(c => c.TypeName).ToHashSet(StringComparer.Ordinal);
        var problems = new List<string>();
        int seen = 0;
        foreach (string file in Directory.EnumerateFiles(Path.Combine(ModuleLayout.RepoRoot, "tests", "Pester"), "*.ps1"))
        {
            foreach (System.Text.RegularExpressions.Match match in System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(file), @"-ErrorId\s+['""]([^'""]+)['""]"))
            {
                seen++;
                string[] parts = match.Groups[1].Value.Split(',', 2);
                string id = parts[0].TrimEnd('*');
                string where = $"{Path.GetFileName(file)}: -ErrorId '{match.Groups[1].Value}'";
                if (!s_engineErrorIds.Contains(id) && !sources.Contains($"\"{id}\"", StringComparison.Ordinal))
                {
                    problems.Add($"{where}: no \"{id}\" in src/");
                }

                if (parts.Length == 2 && parts[1] != "*" && !commandTypes.Contains(parts[1]))
                {
                    problems.Add($"{where}: {parts[1]} is not a cmdlet class");
                }
            }
        }

        Assert.True(seen > 20, $"only {seen} -ErrorId expectations found");
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void TheScannerSeesInvocationsWhereTheyAreAndOnlyThere()
    {
        const string Code = """
            $d = Read-BlockDevice -Name disk -Sector 0 `
                -Count 2 | Where-Object { $_.Sector -gt 0 }
            Get-Command Read-BlockDevice -Syntax    # an argument, not an invocation
            'Write-BlockDevice -Nope' | Out-Null
            <# Close-BlockDevice -InComment #>
            (Get-BlockDevice -Name x).Name; & Close-BlockDevice -Name x -Force:$true
            @"
            Remove-XenstoreItem -InHereString
            "@
            """;
        var calls = ScriptUsageScanner.Invocations("t", Code).Where(c => c.Command.Contains("Block", StringComparison.Ordinal)).ToList();
        Assert.Equal(["Read-BlockDevice", "Get-BlockDevice", "Close-BlockDevice"], calls.Select(c => c.Command));
        Assert.Equal(["Name", "Sector", "Count"], calls[0].Parameters);
        Assert.Equal(1, calls[0].Line);
        Assert.Equal(["Name"], calls[1].Parameters);
        Assert.Equal(["Name", "Force"], calls[2].Parameters);
        Assert.DoesNotContain(ScriptUsageScanner.Invocations("t", Code), c => c.Command == "Remove-XenstoreItem");
    }

    [Fact]
    public void TheCheckNamesWhatIsWrong()
    {
        CmdletMetadata read = ModuleLayout.Cmdlets.Single(c => c.Name == "Read-BlockDevice");
        Assert.Null(ScriptUsageScanner.Check(read, "ErrorAction"));
        Assert.Null(ScriptUsageScanner.Check(read, "device"));
        Assert.Null(ScriptUsageScanner.Check(read, "FullName"));
        Assert.Contains("has no parameter -Bogus", ScriptUsageScanner.Check(read, "Bogus"), StringComparison.Ordinal);
        Assert.Contains("abbreviates -SectorsPerObject", ScriptUsageScanner.Check(read, "Sectors"), StringComparison.Ordinal);
        Assert.Contains("ambiguous", ScriptUsageScanner.Check(read, "Sect"), StringComparison.Ordinal);
    }
}
