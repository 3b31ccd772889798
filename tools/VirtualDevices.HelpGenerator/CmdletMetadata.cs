namespace VirtualDevices.HelpGenerator;

/// <summary>A cmdlet as its compiled attributes describe it (no PowerShell engine needed).</summary>
public sealed record CmdletMetadata(
    string Verb,
    string Noun,
    string TypeName,
    string? DefaultParameterSet,
    bool SupportsShouldProcess,
    int ConfirmImpact,
    IReadOnlyList<string> OutputTypes,
    IReadOnlyList<ParameterMetadata> Parameters)
{
    /// <summary>The name used in the Windows PowerShell 5.1 default set when none is declared.</summary>
    public const string AllParameterSets = "__AllParameterSets";

    /// <summary>Verb-Noun.</summary>
    public string Name => $"{Verb}-{Noun}";

    /// <summary>The explicit parameter sets, or the implicit one when none is named.</summary>
    public IReadOnlyList<string> ParameterSets
    {
        get
        {
            var sets = Parameters.SelectMany(p => p.Sets).Select(s => s.SetName).Where(s => s != AllParameterSets).Distinct().ToList();
            if (sets.Count == 0)
            {
                return [AllParameterSets];
            }

            // The default set comes first; it may have no parameter of its own (the command run without arguments).
            if (DefaultParameterSet is not null)
            {
                sets.Remove(DefaultParameterSet);
                sets.Insert(0, DefaultParameterSet);
            }

            return sets;
        }
    }

    /// <summary>The parameters usable in a set, including those declared for every set.</summary>
    public IEnumerable<(ParameterMetadata Parameter, ParameterSetUsage Usage)> ParametersOf(string set) =>
        from p in Parameters
        let usage = p.Sets.FirstOrDefault(s => s.SetName == set) ?? p.Sets.FirstOrDefault(s => s.SetName == AllParameterSets)
        where usage is not null
        select (p, usage);
}

/// <summary>One parameter of a cmdlet.</summary>
public sealed record ParameterMetadata(
    string Name,
    string TypeName,
    string ShortTypeName,
    IReadOnlyList<string> Aliases,
    bool SupportsWildcards,
    IReadOnlyList<ParameterSetUsage> Sets,
    string? Description)
{
    /// <summary>True for switch parameters.</summary>
    public bool IsSwitch => ShortTypeName == "SwitchParameter";

    /// <summary>True for the -WhatIf and -Confirm parameters that ShouldProcess adds.</summary>
    public bool IsRiskMitigation => Name is "WhatIf" or "Confirm";
}

/// <summary>How a parameter takes part in one parameter set.</summary>
public sealed record ParameterSetUsage(string SetName, bool Mandatory, int? Position, bool FromPipeline, bool FromPipelineByPropertyName);
