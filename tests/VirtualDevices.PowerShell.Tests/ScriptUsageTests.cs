using VirtualDevices.PowerShell.Tests.Engine;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>
/// The Pester suites, every example in the docs and the README call the cmdlets by their real names with parameters
/// they really have, as the engine's parser and binder see them (<see cref="ScriptUsageChecker"/>).
/// </summary>
/// <remarks>
/// The check only parses and binds statically (nothing runs), so one session serves the whole class.
/// </remarks>
public sealed class ScriptUsageTests : IClassFixture<ScriptUsageTests.SharedSession>
{
    private readonly EngineSession _session;

    public ScriptUsageTests(SharedSession shared) => _session = shared.Session;

    /// <summary>The class's session.</summary>
    public sealed class SharedSession : IDisposable
    {
        public EngineSession Session { get; } = EngineSession.Open();

        public void Dispose() => Session.Dispose();
    }

    public static TheoryData<string> Sources()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.EnumerateFiles(Path.Combine(ModuleLayout.RepoRoot, "tests", "Pester"), "*.ps1", SearchOption.AllDirectories).Order())
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
        string code = relativePath.EndsWith(".md", StringComparison.Ordinal) ? ScriptUsageChecker.CodeOfMarkdown(text) : text;
        // The suites dot-source tests/Pester/Helpers/TestHelpers.ps1 (checked as a file of its own): its functions are theirs.
        string? shared = relativePath.EndsWith(".Tests.ps1", StringComparison.Ordinal)
            ? File.ReadAllText(Path.Combine(ModuleLayout.RepoRoot, "tests", "Pester", "Helpers", "TestHelpers.ps1"))
            : null;
        ScriptUsageChecker.Result result = ScriptUsageChecker.Check(_session, code, shared);
        Assert.True(result.Problems.Count == 0, string.Join(Environment.NewLine, result.Problems.Select(p => $"{relativePath}:{p}")));

        // A checker that stopped seeing calls would pass everything: every suite and cmdlet page has some.
        string page = Path.GetFileNameWithoutExtension(relativePath);
        if (relativePath.EndsWith(".ps1", StringComparison.Ordinal) || EngineCommands.All.Any(c => c.Name == page))
        {
            Assert.True(result.CheckedCalls >= 2, $"{relativePath}: only {result.CheckedCalls} calls of the module's cmdlets found");
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
    public void TheCheckerSeesCallsWhereTheyAreAndOnlyThere()
    {
        const string Code = """
            $d = Read-BlockDevice -Device disk -Sector 0 `
                -Count 2 | Where-Object { $_.Sector -gt 0 }
            Get-Command Read-BlockDevice -Syntax    # an argument, not a call
            'Write-BlockDevice -Nope' | Out-Null
            <# Close-BlockDevice -InComment #>
            (Get-BlockDevice -Name x).Name; & Close-BlockDevice -Device x -Confirm:$false
            @"
            Remove-XenstoreItem -InHereString
            "@
            """;
        ScriptUsageChecker.Result result = ScriptUsageChecker.Check(_session, Code);
        Assert.Empty(result.Problems);
        Assert.Equal(3, result.CheckedCalls);
    }

    [Fact]
    public void TheCheckNamesWhatIsWrong()
    {
        const string Code = """
            Read-BlockDevice -Device d -ErrorAction Stop -FullName x
            Read-BlockDevice -Device d -Bogus 1
            Read-BlockDevice -Device d -Sectors 8
            Read-BlockDevice -Device d -Sect 8
            read-blockdevice -Device d
            Read-BlockDevices -Device d
            Read-BlockDevice -Device d -Count 1 -Count 2
            """;
        IReadOnlyList<string> problems = ScriptUsageChecker.Check(_session, Code).Problems;
        Assert.DoesNotContain(problems, p => p.StartsWith("1:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("2:", StringComparison.Ordinal) && p.Contains("-Bogus", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("3:", StringComparison.Ordinal) && p.Contains("abbreviates -SectorsPerObject", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("4:", StringComparison.Ordinal) && p.Contains("AmbiguousParameter", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("5:", StringComparison.Ordinal) && p.Contains("is spelled Read-BlockDevice", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("6:", StringComparison.Ordinal) && p.Contains("not a cmdlet of the module", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("7:", StringComparison.Ordinal) && p.Contains("-Count", StringComparison.Ordinal));
    }
}
