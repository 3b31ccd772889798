using System.Reflection;
using System.Runtime.InteropServices;
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
