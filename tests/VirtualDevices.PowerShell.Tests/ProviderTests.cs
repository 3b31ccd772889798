using System.Reflection;
using System.Runtime.InteropServices;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>The Xenstore provider is declared so that PowerShell registers it with navigation and content support.</summary>
public sealed class ProviderTests
{
    [Fact]
    public void TheXenstoreProviderIsANavigationAndContentProvider()
    {
        string sma = Path.Combine(AppContext.BaseDirectory, "System.Management.Automation.dll");
        var paths = Directory.GetFiles(RuntimeEnvironment.GetRuntimeDirectory(), "*.dll")
            .Concat(Directory.GetFiles(ModuleLayout.ModuleDirectory, "*.dll")).Append(sma);
        using var context = new MetadataLoadContext(new PathAssemblyResolver(paths));
        Assembly cmdlets = context.LoadFromAssemblyPath(ModuleLayout.CmdletAssembly);
        var providers = cmdlets.GetExportedTypes()
            .Select(t => (Type: t, Attribute: t.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.Name == "CmdletProviderAttribute")))
            .Where(p => p.Attribute is not null)
            .ToList();
        var (type, attribute) = Assert.Single(providers);
        Assert.Equal("Xenstore", attribute!.ConstructorArguments[0].Value);
        Assert.Equal("NavigationCmdletProvider", type.BaseType!.Name);
        Assert.Contains(type.GetInterfaces(), i => i.Name == "IContentCmdletProvider");
        // ProviderCapabilities.ShouldProcess is 0x10: -WhatIf and -Confirm work on Xs: paths.
        Assert.Equal(0x10, (int)attribute.ConstructorArguments[1].Value! & 0x10);
    }
}
