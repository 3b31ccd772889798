namespace VirtualDevices.HelpGenerator;

/// <summary>One cmdlet's help page, as written in platyPS markdown.</summary>
public sealed class CmdletHelp
{
    /// <summary>The cmdlet's name (the page's level-1 heading).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>The YAML front matter, in order.</summary>
    public List<KeyValuePair<string, string>> FrontMatter { get; } = [];

    /// <summary>One sentence.</summary>
    public string Synopsis { get; set; } = string.Empty;

    /// <summary>One syntax line per parameter set.</summary>
    public List<SyntaxHelp> Syntax { get; } = [];

    /// <summary>Paragraphs of description.</summary>
    public string Description { get; set; } = string.Empty;

    /// <summary>The examples.</summary>
    public List<ExampleHelp> Examples { get; } = [];

    /// <summary>The parameters, common parameters excluded.</summary>
    public List<ParameterHelp> Parameters { get; } = [];

    /// <summary>True when the page has the CommonParameters section.</summary>
    public bool HasCommonParameters { get; set; }

    /// <summary>Accepted pipeline input types.</summary>
    public List<TypeHelp> Inputs { get; } = [];

    /// <summary>Output types.</summary>
    public List<TypeHelp> Outputs { get; } = [];

    /// <summary>Notes.</summary>
    public string Notes { get; set; } = string.Empty;

    /// <summary>Related links: text and URI (may be empty).</summary>
    public List<KeyValuePair<string, string>> Links { get; } = [];
}

/// <summary>A syntax line of one parameter set.</summary>
/// <param name="SetName">The set.</param>
/// <param name="IsDefault">True for the default set.</param>
/// <param name="Line">The syntax.</param>
public sealed record SyntaxHelp(string SetName, bool IsDefault, string Line);

/// <summary>An example: a title, the code, and what it does.</summary>
/// <param name="Title">The title.</param>
/// <param name="Code">The PowerShell code.</param>
/// <param name="Remarks">The explanation.</param>
public sealed record ExampleHelp(string Title, string Code, string Remarks);

/// <summary>A type in INPUTS or OUTPUTS.</summary>
/// <param name="Name">The type's full name.</param>
/// <param name="Description">What it is.</param>
public sealed record TypeHelp(string Name, string Description);

/// <summary>A parameter's section: prose, and one YAML block per distinct way it takes part in sets.</summary>
public sealed class ParameterHelp
{
    /// <summary>The parameter's name, without the dash.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>The description.</summary>
    public string Description { get; set; } = string.Empty;

    /// <summary>The YAML metadata blocks, each an ordered list of fields.</summary>
    public List<List<KeyValuePair<string, string>>> Blocks { get; } = [];

    /// <summary>A field of the first block, or null.</summary>
    public string? Field(string key) => Blocks.FirstOrDefault()?.FirstOrDefault(f => f.Key == key).Value;
}
