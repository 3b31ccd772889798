using System.Reflection;
using System.Text.RegularExpressions;
using VirtualDevices.HelpGenerator;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>Where the repository and the assembled module are, and what they contain (read once).</summary>
public static partial class ModuleLayout
{
    private static readonly Lazy<IReadOnlyList<CmdletMetadata>> s_cmdlets = new(() => CmdletMetadataReader.Read(CmdletAssembly));

    public static string RepoRoot { get; } = typeof(ModuleLayout).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepoRoot").Value!;

    public static string ModuleDirectory => Path.Combine(RepoRoot, "out", "VirtualDevices");

    public static string CmdletAssembly => Path.Combine(ModuleDirectory, "VirtualDevices.PowerShell.dll");

    public static string DocsDirectory => Path.Combine(RepoRoot, "docs", "VirtualDevices");

    public static IReadOnlyList<CmdletMetadata> Cmdlets => s_cmdlets.Value;

    public static string ManifestText => File.ReadAllText(Path.Combine(ModuleDirectory, "VirtualDevices.psd1"));

    /// <summary>The quoted strings of a manifest list such as <c>CmdletsToExport = @('a', 'b')</c>.</summary>
    public static IReadOnlyList<string>? ManifestList(string key)
    {
        Match match = Regex.Match(ManifestText, key + @"\s*=\s*@\(([^)]*)\)", RegexOptions.Singleline);
        return match.Success
            ? Regex.Matches(match.Groups[1].Value, @"'([^']*)'|""([^""]*)""").Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value).ToList()
            : null;
    }

    /// <summary>A scalar manifest value such as <c>PowerShellVersion = '7.4'</c>.</summary>
    public static string? ManifestValue(string key)
    {
        Match match = Regex.Match(ManifestText, @"(?m)^\s*" + key + @"\s*=\s*'([^']*)'");
        return match.Success ? match.Groups[1].Value : null;
    }
}
