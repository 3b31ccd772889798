using System.Management.Automation;

namespace VirtualDevices.PowerShell.Tests.Engine;

/// <summary>What one script run in the hosted engine produced, stream by stream.</summary>
/// <param name="Output">The objects written to the output stream.</param>
/// <param name="Errors">The error records written to the error stream (non-terminating, or not caught).</param>
/// <param name="Terminating">The terminating error that ended the script, or null when it ran to its end.</param>
/// <param name="Progress">The progress records.</param>
/// <param name="Warnings">The warnings.</param>
/// <param name="Verbose">The verbose messages.</param>
/// <param name="Information">The information records (Write-Host, Write-Information).</param>
/// <param name="Elapsed">How long the run took.</param>
public sealed record ScriptResult(
    IReadOnlyList<PSObject> Output,
    IReadOnlyList<ErrorRecord> Errors,
    ErrorRecord? Terminating,
    IReadOnlyList<ProgressRecord> Progress,
    IReadOnlyList<WarningRecord> Warnings,
    IReadOnlyList<VerboseRecord> Verbose,
    IReadOnlyList<InformationRecord> Information,
    TimeSpan Elapsed)
{
    /// <summary>The exception a terminating error reached the host as (uncaught runs only).</summary>
    public Exception? TerminatingException { get; init; }

    /// <summary>Every error, terminating or not.</summary>
    public IEnumerable<ErrorRecord> AllErrors => Terminating is null ? Errors : Errors.Append(Terminating);

    /// <summary>The base objects of the output.</summary>
    public IEnumerable<object> Objects => Output.Select(o => o.BaseObject);

    /// <summary>A readable account of the errors, for assertion messages.</summary>
    public string Describe()
    {
        static string One(ErrorRecord e) =>
            $"{e.FullyQualifiedErrorId} [{e.CategoryInfo.Category}] {e.Exception?.GetType().Name}: {e.Exception?.Message}" +
            (e.InvocationInfo?.PositionMessage is { Length: > 0 } where ? Environment.NewLine + "    " + where.Replace("\n", "\n    ", StringComparison.Ordinal) : "");
        var lines = Errors.Select(e => "error: " + One(e)).ToList();
        if (Terminating is not null)
        {
            lines.Add("terminating: " + One(Terminating));
        }

        return lines.Count == 0 ? "(no errors)" : string.Join(Environment.NewLine, lines);
    }
}
