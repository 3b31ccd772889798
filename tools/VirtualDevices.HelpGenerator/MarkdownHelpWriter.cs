using System.Text;

namespace VirtualDevices.HelpGenerator;

/// <summary>
/// Writes a cmdlet's platyPS markdown page: the parts that describe the code (syntax, parameter metadata, input and
/// output types) are generated from the assembly; the prose (synopsis, descriptions, examples, notes, links) is kept
/// from the existing page, or taken from the XML documentation, or left as a platyPS placeholder.
/// </summary>
public static class MarkdownHelpWriter
{
    /// <summary>The marker platyPS leaves where prose is missing; a page containing it is unfinished.</summary>
    public const string PlaceholderPrefix = "{{ Fill in";

    /// <summary>
    /// Where a cmdlet's page is read online: the page's "online version" and the cmdlet's HelpUri are this followed by
    /// <c>&lt;Cmdlet&gt;.md</c>, so Get-Help -Online opens the page in the repository.
    /// </summary>
    public const string OnlineVersionBase = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/";

    /// <summary>Writes the page.</summary>
    /// <param name="cmdlet">The cmdlet's metadata.</param>
    /// <param name="existing">The current page, if any.</param>
    public static string Write(CmdletMetadata cmdlet, CmdletHelp? existing)
    {
        var md = new StringBuilder();
        md.Append("---\n");
        List<KeyValuePair<string, string>> front = existing?.FrontMatter.Count > 0
            ? existing.FrontMatter
            : [new("external help file", "VirtualDevices.PowerShell.dll-Help.xml"), new("Module Name", "VirtualDevices"), new("online version", OnlineVersionBase + cmdlet.Name + ".md"), new("schema", "2.0.0")];
        foreach ((string key, string value) in front)
        {
            md.Append(key).Append(':').Append(value.Length > 0 ? " " + value : string.Empty).Append('\n');
        }

        md.Append("---\n\n");
        md.Append("# ").Append(cmdlet.Name).Append("\n\n");
        md.Append("## SYNOPSIS\n").Append(Prose(existing?.Synopsis, "Synopsis")).Append("\n\n");

        md.Append("## SYNTAX\n\n");
        IReadOnlyList<string> sets = cmdlet.ParameterSets;
        foreach (string set in sets)
        {
            string heading = set == CmdletMetadata.AllParameterSets ? string.Empty
                : set + (set == cmdlet.DefaultParameterSet || sets.Count == 1 ? " (Default)" : string.Empty);
            if (heading.Length > 0)
            {
                md.Append("### ").Append(heading).Append('\n');
            }

            md.Append("```\n").Append(SyntaxLine(cmdlet, set)).Append("\n```\n\n");
        }

        md.Append("## DESCRIPTION\n").Append(Prose(existing?.Description, "Description")).Append("\n\n");

        md.Append("## EXAMPLES\n\n");
        if (existing is null || existing.Examples.Count == 0)
        {
            md.Append("### Example 1\n```powershell\nPS C:\\> {{ Add example code here }}\n```\n\n{{ Fill in the example description }}\n\n");
        }
        else
        {
            foreach (ExampleHelp example in existing.Examples)
            {
                md.Append("### ").Append(example.Title).Append("\n```powershell\n").Append(example.Code).Append("\n```\n\n");
                if (example.Remarks.Length > 0)
                {
                    md.Append(example.Remarks).Append("\n\n");
                }
            }
        }

        md.Append("## PARAMETERS\n\n");
        foreach (ParameterMetadata parameter in cmdlet.Parameters.OrderBy(p => p.Name, StringComparer.OrdinalIgnoreCase))
        {
            ParameterHelp? old = existing?.Parameters.FirstOrDefault(p => string.Equals(p.Name, parameter.Name, StringComparison.OrdinalIgnoreCase));
            string description = old is not null && old.Description.Length > 0 && !old.Description.StartsWith(PlaceholderPrefix, StringComparison.Ordinal)
                ? old.Description
                : parameter.Description ?? $"{PlaceholderPrefix} {parameter.Name} Description }}}}";
            md.Append("### -").Append(parameter.Name).Append('\n').Append(description).Append("\n\n");
            foreach (var block in ParameterBlocks(cmdlet, parameter, old?.Field("Default value")))
            {
                md.Append("```yaml\n");
                foreach ((string key, string value) in block)
                {
                    if (key == "Required")
                    {
                        md.Append('\n');
                    }

                    md.Append(key).Append(':').Append(value.Length > 0 ? " " + value : string.Empty).Append('\n');
                }

                md.Append("```\n\n");
            }
        }

        md.Append("### CommonParameters\n");
        md.Append("This cmdlet supports the common parameters: -Debug, -ErrorAction, -ErrorVariable, -InformationAction, -InformationVariable, -OutVariable, -OutBuffer, -PipelineVariable, -ProgressAction, -Verbose, -WarningAction, and -WarningVariable. For more information, see [about_CommonParameters](http://go.microsoft.com/fwlink/?LinkID=113216).\n\n");

        md.Append("## INPUTS\n\n");
        WriteTypes(md, InputTypes(cmdlet), existing?.Inputs);
        md.Append("## OUTPUTS\n\n");
        WriteTypes(md, cmdlet.OutputTypes.Select(t => t == "System.Void" ? "None" : t).Distinct().ToList(), existing?.Outputs);

        md.Append("## NOTES\n");
        if (!string.IsNullOrEmpty(existing?.Notes))
        {
            md.Append(existing.Notes).Append('\n');
        }

        md.Append("\n## RELATED LINKS\n");
        if (existing?.Links.Count > 0)
        {
            md.Append('\n');
            foreach ((string text, string uri) in existing.Links)
            {
                md.Append('[').Append(text).Append("](").Append(uri).Append(")\n\n");
            }
        }

        return md.ToString().TrimEnd('\n') + "\n";
    }

    /// <summary>The syntax line of one parameter set, as platyPS and Get-Command -Syntax print it.</summary>
    /// <param name="cmdlet">The cmdlet.</param>
    /// <param name="set">The set.</param>
    public static string SyntaxLine(CmdletMetadata cmdlet, string set)
    {
        var members = cmdlet.ParametersOf(set).Where(m => !m.Parameter.IsRiskMitigation).ToList();
        var ordered = members.Where(m => m.Usage.Position is not null).OrderBy(m => m.Usage.Position)
            .Concat(members.Where(m => m.Usage.Position is null && m.Usage.Mandatory))
            .Concat(members.Where(m => m.Usage.Position is null && !m.Usage.Mandatory))
            .Concat(cmdlet.ParametersOf(set).Where(m => m.Parameter.IsRiskMitigation).OrderBy(m => m.Parameter.Name == "Confirm"));
        var line = new StringBuilder(cmdlet.Name);
        foreach ((ParameterMetadata parameter, ParameterSetUsage usage) in ordered)
        {
            string name = "-" + parameter.Name;
            string token = (usage.Position is not null ? $"[{name}]" : name) + (parameter.IsSwitch ? string.Empty : $" <{parameter.ShortTypeName}>");
            line.Append(' ').Append(usage.Mandatory ? token : $"[{token}]");
        }

        return line.Append(" [<CommonParameters>]").ToString();
    }

    private static List<List<KeyValuePair<string, string>>> ParameterBlocks(CmdletMetadata cmdlet, ParameterMetadata parameter, string? defaultValue)
    {
        IReadOnlyList<string> allSets = cmdlet.ParameterSets;
        var groups = parameter.Sets
            .GroupBy(u => (u.Mandatory, u.Position, u.FromPipeline, u.FromPipelineByPropertyName))
            .ToList();
        var blocks = new List<List<KeyValuePair<string, string>>>();
        foreach (var group in groups)
        {
            var setNames = group.Select(u => u.SetName).ToList();
            bool all = setNames.Contains(CmdletMetadata.AllParameterSets) || (groups.Count == 1 && allSets.All(setNames.Contains));
            string pipeline = (group.Key.FromPipeline, group.Key.FromPipelineByPropertyName) switch
            {
                (true, true) => "True (ByPropertyName, ByValue)",
                (true, false) => "True (ByValue)",
                (false, true) => "True (ByPropertyName)",
                _ => "False",
            };
            blocks.Add(
            [
                new("Type", parameter.ShortTypeName),
                new("Parameter Sets", all ? "(All)" : string.Join(", ", allSets.Where(setNames.Contains))),
                new("Aliases", string.Join(", ", parameter.Aliases)),
                new("Required", group.Key.Mandatory ? "True" : "False"),
                new("Position", group.Key.Position?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "Named"),
                new("Default value", defaultValue ?? (parameter.IsSwitch ? "False" : "None")),
                new("Accept pipeline input", pipeline),
                new("Accept wildcard characters", parameter.SupportsWildcards ? "True" : "False"),
            ]);
        }

        return blocks;
    }

    private static List<string> InputTypes(CmdletMetadata cmdlet)
    {
        var types = cmdlet.Parameters.Where(p => p.Sets.Any(s => s.FromPipeline || s.FromPipelineByPropertyName))
            .Select(p => p.TypeName).Distinct().ToList();
        return types.Count == 0 ? ["None"] : types;
    }

    private static void WriteTypes(StringBuilder md, List<string> types, List<TypeHelp>? existing)
    {
        foreach (string type in types)
        {
            md.Append("### ").Append(type).Append('\n');
            string? description = existing?.FirstOrDefault(t => t.Name == type)?.Description;
            md.Append(string.IsNullOrEmpty(description) ? "\n" : description + "\n\n");
        }
    }

    private static string Prose(string? text, string what) =>
        string.IsNullOrEmpty(text) ? $"{PlaceholderPrefix} the {what} }}}}" : text;
}
