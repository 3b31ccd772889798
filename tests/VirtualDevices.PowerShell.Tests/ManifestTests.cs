namespace VirtualDevices.PowerShell.Tests;

/// <summary>The manifest exports exactly the cmdlets the assembly has, explicitly, and loads in PowerShell 7.4+.</summary>
public sealed class ManifestTests
{
    [Fact]
    public void CmdletsToExportListsEveryCmdletExactly()
    {
        IReadOnlyList<string>? exported = ModuleLayout.ManifestList("CmdletsToExport");
        Assert.NotNull(exported);
        Assert.DoesNotContain(exported, name => name.Contains('*'));
        Assert.Equal(ModuleLayout.Cmdlets.Select(c => c.Name).Order(StringComparer.Ordinal), exported.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("FunctionsToExport")]
    [InlineData("VariablesToExport")]
    [InlineData("AliasesToExport")]
    public void OtherExportListsAreExplicitlyEmpty(string key)
    {
        Assert.Equal([], ModuleLayout.ManifestList(key));
    }

    [Fact]
    public void TargetsPowerShell74CoreOnLinuxAndMacOS()
    {
        Assert.Equal("7.4", ModuleLayout.ManifestValue("PowerShellVersion"));
        Assert.Equal(["Core"], ModuleLayout.ManifestList("CompatiblePSEditions"));
        IReadOnlyList<string>? tags = ModuleLayout.ManifestList("Tags");
        Assert.NotNull(tags);
        Assert.Contains("Linux", tags);
        Assert.Contains("MacOS", tags);
    }

    [Fact]
    public void RootModuleAndFormatsArePresentInTheModuleFolder()
    {
        string? root = ModuleLayout.ManifestValue("RootModule");
        Assert.Equal("VirtualDevices.PowerShell.dll", root);
        Assert.NotNull(root);
        Assert.True(File.Exists(Path.Combine(ModuleLayout.ModuleDirectory, root)));
        IReadOnlyList<string>? formats = ModuleLayout.ManifestList("FormatsToProcess");
        Assert.NotNull(formats);
        Assert.NotEmpty(formats);
        Assert.All(formats, f => Assert.True(File.Exists(Path.Combine(ModuleLayout.ModuleDirectory, f)), f));
    }

    [Fact]
    public void TheAssembledManifestIsTheRepositoryManifest()
    {
        Assert.Equal(File.ReadAllText(Path.Combine(ModuleLayout.RepoRoot, "VirtualDevices.psd1")), ModuleLayout.ManifestText);
    }

    [Fact]
    public void ModuleVersionMatchesTheAssemblyVersion()
    {
        string? version = ModuleLayout.ManifestValue("ModuleVersion");
        string props = File.ReadAllText(Path.Combine(ModuleLayout.RepoRoot, "Directory.Build.props"));
        Assert.Contains($"<Version>{version}</Version>", props, StringComparison.Ordinal);
    }
}
