using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>The format file is valid and every object the cmdlets write has a view.</summary>
public sealed class FormatTests
{
    private static XDocument Format => XDocument.Load(Path.Combine(ModuleLayout.ModuleDirectory, "VirtualDevices.format.ps1xml"));

    [Fact]
    public void EveryViewSelectsATypeThatExists()
    {
        using MetadataLoadContext context = LoadModule(out Assembly core, out Assembly cmdlets);
        foreach (string typeName in Format.Descendants("TypeName").Select(e => e.Value))
        {
            Assert.True(core.GetType(typeName) is not null || cmdlets.GetType(typeName) is not null, $"{typeName} does not exist");
        }
    }

    [Fact]
    public void EveryOutputTypeOfTheModuleHasAView()
    {
        using MetadataLoadContext context = LoadModule(out Assembly core, out Assembly cmdlets);
        var viewed = Format.Descendants("TypeName").Select(e => e.Value).ToHashSet();
        foreach (string output in ModuleLayout.Cmdlets.SelectMany(c => c.OutputTypes).Distinct().Where(t => t.StartsWith("VirtualDevices.", StringComparison.Ordinal)))
        {
            Type type = core.GetType(output) ?? cmdlets.GetType(output) ?? throw new InvalidOperationException(output);
            if (type.IsInterface)
            {
                // Interfaces are not in PowerShell's type-name chain: some implementation's base class must have a view.
                Assert.Contains(core.GetTypes(), t => t.IsClass && type.IsAssignableFrom(t) && Chain(t).Any(viewed.Contains));
                continue;
            }

            Assert.True(Chain(type).Any(viewed.Contains), $"no view for {output}");
        }
    }

    [Fact]
    public void ViewNamesAreUnique()
    {
        var names = Format.Descendants("View").Select(v => v.Element("Name")!.Value).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
    }

    [Fact]
    public void EveryTypeTheViewsCallExistsWithThatMethod()
    {
        using MetadataLoadContext context = LoadModule(out Assembly core, out Assembly cmdlets);
        var calls = Format.Descendants("ScriptBlock")
            .SelectMany(e => Regex.Matches(e.Value, @"\[(VirtualDevices\.[\w.]+)\]::(\w+)").Select(m => (Type: m.Groups[1].Value, Method: m.Groups[2].Value)))
            .Distinct().ToList();
        Assert.NotEmpty(calls);
        foreach ((string typeName, string method) in calls)
        {
            Type? type = core.GetType(typeName) ?? cmdlets.GetType(typeName);
            Assert.True(type is { IsPublic: true }, $"{typeName} does not exist or is not public");
            Assert.Contains(type!.GetMethods(BindingFlags.Public | BindingFlags.Static), m => m.Name == method);
        }
    }

    /// <summary>
    /// A table fits 80 columns: its fixed widths and the one-space separators add up to at most 79, leaving room for a
    /// column without a width. Only the last column may have none: PowerShell gives such a column its content's width,
    /// so an unsized column in the middle pushes the ones after it off the line (Watch-XenstorePath lost its Value).
    /// </summary>
    [Fact]
    public void EveryTableFitsEightyColumns()
    {
        foreach (XElement table in Format.Descendants("TableControl"))
        {
            string view = table.Parent!.Element("Name")!.Value;
            var widths = table.Element("TableHeaders")!.Elements("TableColumnHeader")
                .Select(h => h.Element("Width") is { } w ? int.Parse(w.Value, System.Globalization.CultureInfo.InvariantCulture) : 0).ToList();
            int fixedWidth = widths.Sum() + widths.Count - 1;
            Assert.True(fixedWidth <= 79, $"{view}: the columns take {fixedWidth} characters");
            Assert.True(widths.SkipLast(1).All(w => w > 0), $"{view}: only the last column may have no width");
        }
    }

    private static IEnumerable<string> Chain(Type type)
    {
        for (Type? t = type; t is not null; t = t.BaseType)
        {
            yield return t.FullName!;
        }
    }

    private static MetadataLoadContext LoadModule(out Assembly core, out Assembly cmdlets)
    {
        var paths = Directory.GetFiles(RuntimeEnvironment.GetRuntimeDirectory(), "*.dll")
            .Concat(Directory.GetFiles(ModuleLayout.ModuleDirectory, "*.dll"))
            .Append(Path.Combine(AppContext.BaseDirectory, "System.Management.Automation.dll"));
        var context = new MetadataLoadContext(new PathAssemblyResolver(paths));
        core = context.LoadFromAssemblyPath(Path.Combine(ModuleLayout.ModuleDirectory, "VirtualDevices.Core.dll"));
        cmdlets = context.LoadFromAssemblyPath(ModuleLayout.CmdletAssembly);
        return context;
    }
}
