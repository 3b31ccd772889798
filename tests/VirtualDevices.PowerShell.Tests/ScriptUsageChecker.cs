using System.Management.Automation;
using VirtualDevices.PowerShell.Tests.Engine;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>
/// Finds the module's cmdlets called in PowerShell text and checks each call with the engine's own parser and
/// binder: <c>[Parser]::ParseInput</c> gives the CommandAsts (so arguments, strings, comments and here-strings are
/// never taken for calls), <c>[StaticParameterBinder]::BindCommand</c> binds each call against the imported module
/// and reports unknown, ambiguous or repeated parameters; abbreviations, which the binder accepts, are reported too
/// (a script must name parameters in full).
/// </summary>
public static class ScriptUsageChecker
{
    /// <summary>What a check found.</summary>
    /// <param name="Problems">One line per problem, starting with the line number.</param>
    /// <param name="CheckedCalls">How many calls of the module's cmdlets were checked.</param>
    public sealed record Result(IReadOnlyList<string> Problems, int CheckedCalls);

    private const string Script = """
        $code = $args[0]
        $family = 'BlockDevice', 'Nbd', 'Xenstore', 'DeviceStats', 'Xen', 'Vmnet'
        # The module's commands and each one's parameter names (aliases included), once per session: a session
        # checks many files.
        if (-not $__vdModule) {
            $__vdModule = @{}; $__vdNames = @{}
            Get-Command -Module VirtualDevices | ForEach-Object { $__vdModule[$_.Name] = $_; $__vdNames[$_.Name] = @($_.Parameters.Values | ForEach-Object { $_.Name; $_.Aliases }) }
        }
        $module = $__vdModule
        $tokens = $null; $parseErrors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($code, [ref]$tokens, [ref]$parseErrors)
        $functions = @($ast.FindAll({ $args[0] -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $true) | ForEach-Object Name)
        if ($args[1]) {
            $sharedAst = [System.Management.Automation.Language.Parser]::ParseInput($args[1], [ref]$null, [ref]$null)
            $functions += @($sharedAst.FindAll({ $args[0] -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $true) | ForEach-Object Name)
        }
        $checked = 0
        foreach ($call in $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true)) {
            $name = $call.GetCommandName()
            if (-not $name) { continue }
            $line = $call.Extent.StartLineNumber
            $command = $module[$name]
            if (-not $command) {
                $noun = ($name -split '-', 2)[1]
                if ($noun -and @($family | Where-Object { $noun.Contains($_) }).Count -gt 0 -and $functions -notcontains $name) {
                    "${line}: $name is not a cmdlet of the module"
                }
                continue
            }
            $checked++
            if ($name -cne $command.Name) { "${line}: $name is spelled $($command.Name)" }
            $binding = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($call, $true)
            $reported = @{}
            foreach ($failure in $binding.BindingExceptions.GetEnumerator()) {
                $id = $failure.Value.BindingException.ErrorId
                # Positional and mandatory checks need the pipeline input and splatting a static binder cannot see.
                if ($id -in 'PositionalParameterNotFound', 'MissingMandatoryParameter', 'AmbiguousParameterSet') { continue }
                $reported[$failure.Key] = $true
                "${line}: $($command.Name) -$($failure.Key): $id ($($failure.Value.BindingException.Message))"
            }
            $names = $__vdNames[$command.Name]
            foreach ($parameter in $call.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] }) {
                $written = $parameter.ParameterName
                if ($reported[$written] -or $names -contains $written) { continue }
                $candidates = @($names | Where-Object { $_.StartsWith($written, [StringComparison]::OrdinalIgnoreCase) })
                if ($candidates.Count -eq 1) { "${line}: -$written abbreviates -$($candidates[0]) of $($command.Name)" }
                elseif ($candidates.Count -eq 0) { "${line}: $($command.Name) has no parameter -$written" }
            }
        }
        "checked=$checked"
        """;

    /// <summary>Checks the calls in <paramref name="code"/>.</summary>
    /// <param name="session">A session with the module imported.</param>
    /// <param name="code">PowerShell text.</param>
    /// <param name="sharedCode">PowerShell text that <paramref name="code"/> dot-sources (the Pester suites' shared
    /// helpers): the functions it defines are the script's own, not misspelt cmdlets. Its calls are not checked here.</param>
    public static Result Check(EngineSession session, string code, string? sharedCode = null)
    {
        IReadOnlyList<PSObject> output = session.RunClean(Script, code, sharedCode);
        var lines = output.Select(o => o.ToString()).ToList();
        string last = lines[^1];
        Assert.StartsWith("checked=", last, StringComparison.Ordinal);
        return new Result(lines.Take(lines.Count - 1).ToList(), int.Parse(last["checked=".Length..], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// The PowerShell of a markdown page: its fenced <c>powershell</c> blocks, each line kept at its place (others
    /// blank, so that line numbers point into the page). In a block with prompts only the typed lines count
    /// (<c>PS&gt;</c> and <c>&gt;&gt;</c>, prompts removed): the rest is shown output.
    /// </summary>
    /// <param name="markdown">The page.</param>
    public static string CodeOfMarkdown(string markdown)
    {
        string[] lines = markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var code = new string[lines.Length];
        for (int i = 0; i < lines.Length; i++)
        {
            code[i] = "";
            if (!lines[i].TrimStart().StartsWith("```powershell", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            int end = Array.FindIndex(lines, i + 1, l => l.TrimStart().StartsWith("```", StringComparison.Ordinal));
            end = end < 0 ? lines.Length : end;
            bool prompted = lines[(i + 1)..end].Any(l => l.StartsWith("PS>", StringComparison.Ordinal));
            for (int j = i + 1; j < end; j++)
            {
                string line = lines[j];
                code[j] = !prompted ? line
                    : line.StartsWith("PS>", StringComparison.Ordinal) ? line[3..]
                    : line.StartsWith(">>", StringComparison.Ordinal) ? line[2..]
                    : "";
            }

            // A statement never runs on from one block into the next.
            code[end < lines.Length ? end : lines.Length - 1] = "";
            i = end;
        }

        return string.Join('\n', code);
    }
}
