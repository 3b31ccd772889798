using System.Reflection;
using System.Runtime.InteropServices;
using VirtualDevices.HelpGenerator;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>PowerShell manners, checked on the compiled cmdlets.</summary>
public sealed class CmdletMetadataTests
{
    /// <summary>Verbs whose cmdlets change state and so must support -WhatIf and -Confirm.</summary>
    private static readonly HashSet<string> s_changingVerbs = new(StringComparer.Ordinal)
    {
        "Add", "Clear", "Close", "Disconnect", "Dismount", "Disable", "Enable", "Initialize", "Install", "Invoke", "Mount", "Move", "New",
        "Publish", "Register", "Remove", "Rename", "Reset", "Restart", "Resume", "Send", "Set", "Start", "Stop", "Suspend", "Uninstall",
        "Unpublish", "Unregister", "Update", "Write",
    };

    public static TheoryData<string> CmdletNames()
    {
        var data = new TheoryData<string>();
        foreach (CmdletMetadata cmdlet in ModuleLayout.Cmdlets)
        {
            data.Add(cmdlet.Name);
        }

        return data;
    }

    [Fact]
    public void TheModuleHasCmdlets()
    {
        Assert.True(ModuleLayout.Cmdlets.Count >= 9, $"found {ModuleLayout.Cmdlets.Count} cmdlets");
    }

    [Theory]
    [MemberData(nameof(CmdletNames))]
    public void UsesAnApprovedVerb(string name)
    {
        Assert.Contains(Cmdlet(name).Verb, ApprovedVerbs.Value);
    }

    [Theory]
    [MemberData(nameof(CmdletNames))]
    public void ClassIsNamedVerbNounCommand(string name)
    {
        CmdletMetadata cmdlet = Cmdlet(name);
        Assert.EndsWith("." + cmdlet.Verb + cmdlet.Noun + "Command", cmdlet.TypeName, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(CmdletNames))]
    public void DeclaresOutputType(string name)
    {
        Assert.NotEmpty(Cmdlet(name).OutputTypes);
    }

    [Theory]
    [MemberData(nameof(CmdletNames))]
    public void SupportsShouldProcessWhenItChangesState(string name)
    {
        CmdletMetadata cmdlet = Cmdlet(name);
        if (s_changingVerbs.Contains(cmdlet.Verb))
        {
            Assert.True(cmdlet.SupportsShouldProcess, $"{name} changes state but does not support ShouldProcess");
        }
    }

    [Theory]
    [MemberData(nameof(CmdletNames))]
    public void ForceOnlyWherePromptsExist(string name)
    {
        CmdletMetadata cmdlet = Cmdlet(name);
        if (cmdlet.Parameters.Any(p => p.Name == "Force"))
        {
            Assert.True(cmdlet.SupportsShouldProcess && cmdlet.ConfirmImpact >= 2, $"{name} has -Force but nothing to confirm");
        }
    }

    [Theory]
    [MemberData(nameof(CmdletNames))]
    public void EveryParameterIsDocumentedInCode(string name)
    {
        foreach (ParameterMetadata parameter in Cmdlet(name).Parameters)
        {
            Assert.False(string.IsNullOrWhiteSpace(parameter.Description), $"{name} -{parameter.Name} has no /// summary");
        }
    }

    [Theory]
    [MemberData(nameof(CmdletNames))]
    public void ParameterSetsAreUnambiguous(string name)
    {
        CmdletMetadata cmdlet = Cmdlet(name);
        foreach (string set in cmdlet.ParameterSets)
        {
            var positions = cmdlet.ParametersOf(set).Where(m => m.Usage.Position is not null).Select(m => m.Usage.Position).ToList();
            Assert.Equal(positions.Count, positions.Distinct().Count());
        }

        if (cmdlet.ParameterSets.Count > 1)
        {
            Assert.NotNull(cmdlet.DefaultParameterSet);
            Assert.Contains(cmdlet.DefaultParameterSet, cmdlet.ParameterSets);
        }
    }

    [Fact]
    public void TheModuleFolderDoesNotShipPowerShellItself()
    {
        Assert.False(File.Exists(Path.Combine(ModuleLayout.ModuleDirectory, "System.Management.Automation.dll")));
        Assert.True(File.Exists(Path.Combine(ModuleLayout.ModuleDirectory, "VirtualDevices.Core.dll")));
    }

    private static CmdletMetadata Cmdlet(string name) => ModuleLayout.Cmdlets.Single(c => c.Name == name);

    /// <summary>The approved verbs are the constants of System.Management.Automation's Verbs* classes.</summary>
    private static readonly Lazy<HashSet<string>> ApprovedVerbs = new(() =>
    {
        string sma = Path.Combine(AppContext.BaseDirectory, "System.Management.Automation.dll");
        var paths = Directory.GetFiles(RuntimeEnvironment.GetRuntimeDirectory(), "*.dll").Append(sma);
        using var context = new MetadataLoadContext(new PathAssemblyResolver(paths));
        Assembly assembly = context.LoadFromAssemblyPath(sma);
        var verbs = new HashSet<string>(StringComparer.Ordinal);
        foreach (Type type in assembly.GetExportedTypes().Where(t => t.Namespace == "System.Management.Automation" && t.Name.StartsWith("Verbs", StringComparison.Ordinal)))
        {
            foreach (FieldInfo field in type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
            {
                verbs.Add((string)field.GetRawConstantValue()!);
            }
        }

        Assert.Contains("Get", verbs);
        return verbs;
    });
}
