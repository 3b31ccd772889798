using System.Management.Automation;
using VirtualDevices.PowerShell.Tests.Engine;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>The harness itself: it tells terminating from non-terminating errors, keeps state between runs, and stops a script that runs too long.</summary>
public sealed class EngineHostTests
{
    [Fact]
    public void TheModuleIsImportedFromTheBuiltFolder()
    {
        using EngineSession session = EngineSession.Open();
        string path = session.RunClean("(Get-Module VirtualDevices).ModuleBase").Single().ToString();
        Assert.Equal(Path.GetFullPath(ModuleLayout.ModuleDirectory).TrimEnd('/'), path.TrimEnd('/'));
        Assert.Equal(session.Directory, session.RunClean("(Get-Location).Path").Single().ToString());
    }

    [Fact]
    public void NonTerminatingAndTerminatingErrorsAreToldApart()
    {
        using EngineSession session = EngineSession.Open();
        ScriptResult soft = session.Run("Get-Item -LiteralPath ./nope; 'after'");
        Assert.Null(soft.Terminating);
        Assert.Equal("PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand", Assert.Single(soft.Errors).FullyQualifiedErrorId);
        Assert.Equal(["after"], soft.Objects);

        ScriptResult hard = session.Run("Get-Item -LiteralPath ./nope -ErrorAction Stop; 'after'");
        Assert.Empty(hard.Output);
        Assert.Empty(hard.Errors);
        Assert.Equal("PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand", hard.Terminating!.FullyQualifiedErrorId);

        ScriptResult thrown = session.Run("throw 'boom'");
        Assert.Equal("boom", thrown.Terminating!.Exception.Message);

        ScriptResult parse = session.Run("Get-Item -LiteralPath (");
        Assert.NotNull(parse.Terminating);
    }

    [Fact]
    public void VariablesStayFromOneRunToTheNext()
    {
        using EngineSession session = EngineSession.Open();
        session.RunClean("$kept = 41");
        Assert.Equal(42, session.RunClean("$kept + 1").Single().BaseObject);
        Assert.Equal(7, session.RunClean("$args[0] + $args[1]", 3, 4).Single().BaseObject);
    }

    [Fact]
    public void AScriptThatRunsTooLongIsStopped()
    {
        using EngineSession session = EngineSession.Open();
        var started = DateTime.UtcNow;
        Assert.Throws<TimeoutException>(() => session.Run("while ($true) { Start-Sleep -Milliseconds 10 }", TimeSpan.FromMilliseconds(300)));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));

        // The runspace is usable again once stopped.
        Assert.Equal(2, session.RunClean("1 + 1").Single().BaseObject);
    }

    [Fact]
    public void StreamsAreCollected()
    {
        using EngineSession session = EngineSession.Open();
        ScriptResult result = session.Run("Write-Warning w; Write-Verbose v -Verbose; Write-Progress -Activity a -Status s; Write-Information i; 1");
        Assert.Equal("w", Assert.Single(result.Warnings).Message);
        Assert.Equal("v", Assert.Single(result.Verbose).Message);
        Assert.Contains(result.Progress, p => p.Activity == "a");
        Assert.Single(result.Information);
        Assert.Equal([1], result.Objects);
    }

    [Fact]
    public void SessionsAreIsolated()
    {
        using EngineSession one = EngineSession.Open();
        using EngineSession two = EngineSession.Open();
        one.RunClean("New-BlockDevice -Size 1MB -Name only-in-one | Out-Null");
        Assert.Single(one.RunClean("Get-BlockDevice"));
        Assert.Empty(two.RunClean("Get-BlockDevice"));
        Assert.NotEqual(one.Directory, two.Directory);
    }
}
