using System.Management.Automation;

namespace VirtualDevices.PowerShell.Tests.Engine;

/// <summary>The module's commands as the hosted engine sees them (<c>Get-Command -Module VirtualDevices</c>), read once.</summary>
public static class EngineCommands
{
    private static readonly Lazy<IReadOnlyList<EngineCommand>> s_commands = new(Read);

    /// <summary>Every command the module exports, with its parameters (common parameters left out).</summary>
    public static IReadOnlyList<EngineCommand> All => s_commands.Value;

    /// <summary>The command named <paramref name="name"/>.</summary>
    /// <param name="name">The command name.</param>
    public static EngineCommand Get(string name) => All.Single(c => c.Name == name);

    private static IReadOnlyList<EngineCommand> Read()
    {
        using EngineSession session = EngineSession.Open();
        var commands = new List<EngineCommand>();
        foreach (PSObject item in session.RunClean("Get-Command -Module VirtualDevices"))
        {
            var info = (CmdletInfo)item.BaseObject;
            var parameters = info.Parameters.Values
                .Where(p => !Cmdlet.CommonParameters.Contains(p.Name) && !Cmdlet.OptionalCommonParameters.Contains(p.Name))
                .Select(p => new EngineParameter(
                    p.Name,
                    p.ParameterType,
                    p.Aliases.ToList(),
                    p.ParameterSets.Select(s => new EngineParameterSet(s.Key, s.Value.Position, s.Value.IsMandatory, s.Value.ValueFromPipeline, s.Value.ValueFromPipelineByPropertyName)).ToList()))
                .ToList();
            commands.Add(new EngineCommand(info.Name, info.ImplementingType.FullName!, info.ImplementingType.Name, parameters));
        }

        return commands;
    }
}

/// <summary>One command of the module.</summary>
/// <param name="Name">Its name (Verb-Noun).</param>
/// <param name="TypeFullName">The cmdlet class.</param>
/// <param name="TypeName">The cmdlet class without namespace (the suffix PowerShell gives its error ids).</param>
/// <param name="Parameters">Its parameters, common ones left out.</param>
public sealed record EngineCommand(string Name, string TypeFullName, string TypeName, IReadOnlyList<EngineParameter> Parameters)
{
    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>One parameter, with what each of its sets says.</summary>
/// <param name="Name">The name.</param>
/// <param name="Type">The declared type.</param>
/// <param name="Aliases">Its aliases.</param>
/// <param name="Sets">Its parameter sets.</param>
public sealed record EngineParameter(string Name, Type Type, IReadOnlyList<string> Aliases, IReadOnlyList<EngineParameterSet> Sets)
{
    /// <summary>Whether it takes pipeline input by value in some set.</summary>
    public bool FromPipeline => Sets.Any(s => s.ValueFromPipeline);

    /// <summary>Whether it takes pipeline input by property name in some set.</summary>
    public bool FromPropertyName => Sets.Any(s => s.ValueFromPipelineByPropertyName);

    /// <summary>Whether it can be given by position (first positional slot) in some set.</summary>
    public bool IsFirstPositional => Sets.Any(s => s.Position == 0);

    /// <summary>The element type (for arrays), the type otherwise.</summary>
    public Type ElementType => Type.IsArray ? Type.GetElementType()! : Type;

    /// <summary>The name and aliases, any of which a property may have to bind by property name.</summary>
    public IEnumerable<string> Names => Aliases.Prepend(Name);
}

/// <summary>What one parameter set says of a parameter.</summary>
/// <param name="Name">The set.</param>
/// <param name="Position">Its position, or int.MinValue when named only.</param>
/// <param name="IsMandatory">Whether it is mandatory.</param>
/// <param name="ValueFromPipeline">Whether it binds pipeline objects by value.</param>
/// <param name="ValueFromPipelineByPropertyName">Whether it binds a property of pipeline objects.</param>
public sealed record EngineParameterSet(string Name, int Position, bool IsMandatory, bool ValueFromPipeline, bool ValueFromPipelineByPropertyName);
