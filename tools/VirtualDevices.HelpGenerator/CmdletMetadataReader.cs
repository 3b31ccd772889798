using System.Reflection;
using System.Runtime.InteropServices;
using System.Xml.Linq;

namespace VirtualDevices.HelpGenerator;

/// <summary>
/// Reads the cmdlets of a compiled assembly with <see cref="MetadataLoadContext"/>: attributes only, no code run,
/// so it works without PowerShell installed. Parameter descriptions come from the assembly's XML documentation.
/// </summary>
public static class CmdletMetadataReader
{
    private const string Sma = "System.Management.Automation.";

    /// <summary>Reads every public cmdlet class of the assembly, sorted by name.</summary>
    /// <param name="assemblyPath">The cmdlet assembly.</param>
    public static IReadOnlyList<CmdletMetadata> Read(string assemblyPath)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(assemblyPath))!;
        var paths = new List<string>(Directory.GetFiles(RuntimeEnvironment.GetRuntimeDirectory(), "*.dll"));
        paths.AddRange(Directory.GetFiles(directory, "*.dll"));
        string toolSma = Path.Combine(AppContext.BaseDirectory, "System.Management.Automation.dll");
        if (!paths.Any(p => Path.GetFileName(p) == "System.Management.Automation.dll"))
        {
            paths.Add(toolSma);
        }

        using var context = new MetadataLoadContext(new PathAssemblyResolver(paths.DistinctBy(Path.GetFileName)));
        Assembly assembly = context.LoadFromAssemblyPath(Path.GetFullPath(assemblyPath));
        Dictionary<string, string> docs = ReadXmlDocs(Path.ChangeExtension(assemblyPath, ".xml"));
        var cmdlets = new List<CmdletMetadata>();
        foreach (Type type in assembly.GetExportedTypes())
        {
            CustomAttributeData? cmdlet = type.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.FullName == Sma + "CmdletAttribute");
            if (cmdlet is null || type.IsAbstract)
            {
                continue;
            }

            cmdlets.Add(ReadCmdlet(type, cmdlet, docs));
        }

        return cmdlets.OrderBy(c => c.Name, StringComparer.Ordinal).ToList();
    }

    private static CmdletMetadata ReadCmdlet(Type type, CustomAttributeData cmdlet, Dictionary<string, string> docs)
    {
        string verb = (string)cmdlet.ConstructorArguments[0].Value!;
        string noun = (string)cmdlet.ConstructorArguments[1].Value!;
        string? defaultSet = Named<string>(cmdlet, "DefaultParameterSetName");
        bool shouldProcess = Named<bool>(cmdlet, "SupportsShouldProcess");
        int confirmImpact = Named<int?>(cmdlet, "ConfirmImpact") ?? 2;
        var outputs = new List<string>();
        foreach (CustomAttributeData output in type.GetCustomAttributesData().Where(a => a.AttributeType.FullName == Sma + "OutputTypeAttribute"))
        {
            foreach (CustomAttributeTypedArgument argument in (IEnumerable<CustomAttributeTypedArgument>)output.ConstructorArguments[0].Value!)
            {
                outputs.Add(argument.Value is Type t ? t.FullName! : (string)argument.Value!);
            }
        }

        var parameters = new List<ParameterMetadata>();
        foreach (PropertyInfo property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            IList<CustomAttributeData> attributes = property.GetCustomAttributesData();
            var sets = attributes.Where(a => a.AttributeType.FullName == Sma + "ParameterAttribute").Select(a => new ParameterSetUsage(
                Named<string>(a, "ParameterSetName") ?? CmdletMetadata.AllParameterSets,
                Named<bool>(a, "Mandatory"),
                Named<int?>(a, "Position") is int p && p >= 0 ? p : null,
                Named<bool>(a, "ValueFromPipeline"),
                Named<bool>(a, "ValueFromPipelineByPropertyName"))).ToList();
            if (sets.Count == 0)
            {
                continue;
            }

            var aliases = attributes.Where(a => a.AttributeType.FullName == Sma + "AliasAttribute")
                .SelectMany(a => ((IEnumerable<CustomAttributeTypedArgument>)a.ConstructorArguments[0].Value!).Select(v => (string)v.Value!)).ToList();
            bool wildcards = attributes.Any(a => a.AttributeType.FullName == Sma + "SupportsWildcardsAttribute");
            // A parameter declared by a generic base (GetServerCommand<TService>) is documented under the open type.
            Type declaring = property.DeclaringType!;
            string key = $"P:{(declaring.IsGenericType ? declaring.GetGenericTypeDefinition() : declaring).FullName}.{property.Name}";
            docs.TryGetValue(key, out string? description);
            parameters.Add(new ParameterMetadata(property.Name, property.PropertyType.FullName!, ShortName(property.PropertyType), aliases, wildcards, sets, description));
        }

        if (shouldProcess)
        {
            ParameterSetUsage all = new(CmdletMetadata.AllParameterSets, false, null, false, false);
            parameters.Add(new ParameterMetadata("WhatIf", Sma + "SwitchParameter", "SwitchParameter", ["wi"], false, [all], "Shows what would happen if the cmdlet runs. The cmdlet is not run."));
            parameters.Add(new ParameterMetadata("Confirm", Sma + "SwitchParameter", "SwitchParameter", ["cf"], false, [all], "Prompts you for confirmation before running the cmdlet."));
        }

        return new CmdletMetadata(verb, noun, type.FullName!, defaultSet, shouldProcess, confirmImpact, outputs, parameters);
    }

    /// <summary>The type name platyPS shows: the simple name, with [] for arrays and Nullable unwrapped.</summary>
    public static string ShortName(Type type)
    {
        if (type.IsArray)
        {
            return ShortName(type.GetElementType()!) + "[]";
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition().FullName == "System.Nullable`1")
        {
            return ShortName(type.GetGenericArguments()[0]);
        }

        return type.Name;
    }

    private static T? Named<T>(CustomAttributeData attribute, string name)
    {
        foreach (CustomAttributeNamedArgument argument in attribute.NamedArguments)
        {
            if (argument.MemberName == name)
            {
                object? value = argument.TypedValue.Value;
                return value is null ? default : (T)value;
            }
        }

        return default;
    }

    private static Dictionary<string, string> ReadXmlDocs(string path)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(path))
        {
            return result;
        }

        foreach (XElement member in XDocument.Load(path).Descendants("member"))
        {
            string? name = member.Attribute("name")?.Value;
            XElement? summary = member.Element("summary");
            if (name is not null && summary is not null)
            {
                result[name] = Normalize(string.Concat(summary.Nodes().Select(n => n is XElement e ? (e.Attribute("cref")?.Value.Split('.').Last() ?? e.Attribute("langword")?.Value ?? e.Value) : n.ToString())));
            }
        }

        return result;
    }

    private static string Normalize(string text) => string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
}
