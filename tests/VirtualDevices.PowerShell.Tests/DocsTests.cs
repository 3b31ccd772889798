using System.Xml.Linq;
using VirtualDevices.HelpGenerator;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>Every cmdlet has a complete platyPS page that matches its code, and the module's MAML help has them all.</summary>
public sealed class DocsTests
{
    public static TheoryData<string> CmdletNames() => CmdletMetadataTests.CmdletNames();

    [Theory]
    [MemberData(nameof(CmdletNames))]
    public void PageMatchesTheCodeExactly(string name)
    {
        string path = Path.Combine(ModuleLayout.DocsDirectory, name + ".md");
        Assert.True(File.Exists(path), $"{path} is missing; run: dotnet tools/VirtualDevices.HelpGenerator/bin/Release/net10.0/VirtualDevices.HelpGenerator.dll markdown --assembly out/VirtualDevices/VirtualDevices.PowerShell.dll --docs docs");
        string text = File.ReadAllText(path);
        CmdletMetadata cmdlet = ModuleLayout.Cmdlets.Single(c => c.Name == name);
        string expected = MarkdownHelpWriter.Write(cmdlet, MarkdownHelpParser.Parse(text));
        Assert.Equal(expected, text.Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(CmdletNames))]
    public void PageIsComplete(string name)
    {
        string text = File.ReadAllText(Path.Combine(ModuleLayout.DocsDirectory, name + ".md"));
        CmdletHelp help = MarkdownHelpParser.Parse(text);
        Assert.DoesNotContain("{{", text, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(help.Synopsis));
        Assert.False(string.IsNullOrWhiteSpace(help.Description));
        Assert.True(help.Examples.Count >= 2, $"{name} has {help.Examples.Count} examples");
        Assert.All(help.Examples, e =>
        {
            Assert.False(string.IsNullOrWhiteSpace(e.Code));
            Assert.False(string.IsNullOrWhiteSpace(e.Remarks));
        });
        Assert.All(help.Parameters, p => Assert.False(string.IsNullOrWhiteSpace(p.Description), $"-{p.Name}"));
        Assert.NotEmpty(help.Outputs);
        Assert.True(help.HasCommonParameters);
    }

    [Fact]
    public void EveryPageBelongsToACmdlet()
    {
        var names = ModuleLayout.Cmdlets.Select(c => c.Name + ".md").ToHashSet();
        Assert.All(Directory.GetFiles(ModuleLayout.DocsDirectory, "*.md"), f => Assert.Contains(Path.GetFileName(f), names));
    }

    [Fact]
    public void TheAboutTopicExistsAndIsBuilt()
    {
        Assert.True(File.Exists(Path.Combine(ModuleLayout.RepoRoot, "docs", "about_VirtualDevices.md")));
        string built = File.ReadAllText(Path.Combine(ModuleLayout.ModuleDirectory, "en-US", "about_VirtualDevices.help.txt"));
        Assert.Contains("about_VirtualDevices", built, StringComparison.Ordinal);
        Assert.True(built.Length > 1000, "the about topic is too short to be useful");
    }

    [Fact]
    public void GeneratedHelpHasEveryCmdletAndParameter()
    {
        XNamespace command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
        XNamespace maml = "http://schemas.microsoft.com/maml/2004/10";
        var document = XDocument.Load(Path.Combine(ModuleLayout.ModuleDirectory, "en-US", "VirtualDevices.PowerShell.dll-Help.xml"));
        var commands = document.Root!.Elements(command + "command").ToDictionary(c => c.Element(command + "details")!.Element(command + "name")!.Value);
        foreach (CmdletMetadata cmdlet in ModuleLayout.Cmdlets)
        {
            Assert.True(commands.TryGetValue(cmdlet.Name, out XElement? element), $"{cmdlet.Name} is missing from the MAML help");
            var parameters = element.Element(command + "parameters")!.Elements(command + "parameter").Select(p => p.Element(maml + "name")!.Value).ToHashSet();
            Assert.Equal(cmdlet.Parameters.Select(p => p.Name).Order(), parameters.Order());
            Assert.Equal(cmdlet.ParameterSets.Count, element.Element(command + "syntax")!.Elements(command + "syntaxItem").Count());
            Assert.NotEmpty(element.Element(command + "examples")!.Elements());
        }
    }
}
