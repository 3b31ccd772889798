using System.Text;

namespace VirtualDevices.HelpGenerator;

/// <summary>Parses the platyPS 0.14 markdown schema (2.0.0) of a cmdlet help page.</summary>
public static class MarkdownHelpParser
{
    /// <summary>Parses a page.</summary>
    /// <param name="markdown">The page's text.</param>
    public static CmdletHelp Parse(string markdown)
    {
        var help = new CmdletHelp();
        string[] lines = markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        int i = 0;
        if (lines.Length > 0 && lines[0].Trim() == "---")
        {
            for (i = 1; i < lines.Length && lines[i].Trim() != "---"; i++)
            {
                int colon = lines[i].IndexOf(':', StringComparison.Ordinal);
                if (colon > 0)
                {
                    help.FrontMatter.Add(new(lines[i][..colon].Trim(), lines[i][(colon + 1)..].Trim()));
                }
            }

            i++;
        }

        string? section = null;
        string? subsection = null;
        var buffer = new List<string>();
        void Flush()
        {
            Apply(help, section, subsection, buffer);
            buffer.Clear();
        }

        for (; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                // Fenced blocks are kept whole: their lines may start with '#'.
                buffer.Add(line);
                for (i++; i < lines.Length; i++)
                {
                    buffer.Add(lines[i]);
                    if (lines[i].StartsWith("```", StringComparison.Ordinal))
                    {
                        break;
                    }
                }

                continue;
            }

            if (line.StartsWith("# ", StringComparison.Ordinal))
            {
                Flush();
                help.Name = line[2..].Trim();
                section = subsection = null;
            }
            else if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                Flush();
                section = line[3..].Trim().ToUpperInvariant();
                subsection = null;
            }
            else if (line.StartsWith("### ", StringComparison.Ordinal))
            {
                Flush();
                subsection = line[4..].Trim();
            }
            else
            {
                buffer.Add(line);
            }
        }

        Flush();
        return help;
    }

    private static void Apply(CmdletHelp help, string? section, string? subsection, List<string> lines)
    {
        switch (section)
        {
            case "SYNOPSIS":
                help.Synopsis = Prose(lines);
                break;
            case "DESCRIPTION":
                help.Description = Prose(lines);
                break;
            case "NOTES":
                help.Notes = Prose(lines);
                break;
            case "SYNTAX" when subsection is not null:
                bool isDefault = subsection.EndsWith("(Default)", StringComparison.Ordinal);
                string set = isDefault ? subsection[..^"(Default)".Length].Trim() : subsection;
                help.Syntax.Add(new SyntaxHelp(set, isDefault, Fenced(lines).Trim()));
                break;
            case "EXAMPLES" when subsection is not null:
                help.Examples.Add(new ExampleHelp(subsection, Fenced(lines).TrimEnd(), Prose(WithoutFences(lines))));
                break;
            case "PARAMETERS" when subsection == "CommonParameters":
                help.HasCommonParameters = true;
                break;
            case "PARAMETERS" when subsection is not null:
                var parameter = new ParameterHelp { Name = subsection.TrimStart('-'), Description = Prose(WithoutFences(lines)) };
                foreach (string block in FencedBlocks(lines))
                {
                    var fields = new List<KeyValuePair<string, string>>();
                    foreach (string field in block.Split('\n'))
                    {
                        int colon = field.IndexOf(':', StringComparison.Ordinal);
                        if (colon > 0)
                        {
                            fields.Add(new(field[..colon].Trim(), field[(colon + 1)..].Trim()));
                        }
                    }

                    parameter.Blocks.Add(fields);
                }

                help.Parameters.Add(parameter);
                break;
            case "INPUTS" when subsection is not null:
                help.Inputs.Add(new TypeHelp(subsection, Prose(lines)));
                break;
            case "OUTPUTS" when subsection is not null:
                help.Outputs.Add(new TypeHelp(subsection, Prose(lines)));
                break;
            case "RELATED LINKS":
                foreach (string line in lines)
                {
                    string t = line.Trim();
                    int close = t.IndexOf("](", StringComparison.Ordinal);
                    if (t.StartsWith('[') && close > 0 && t.EndsWith(')'))
                    {
                        help.Links.Add(new(t[1..close], t[(close + 2)..^1]));
                    }
                }

                break;
        }
    }

    /// <summary>Text with surrounding blank lines removed and inner lines kept.</summary>
    private static string Prose(IEnumerable<string> lines) => string.Join('\n', lines).Trim();

    private static IEnumerable<string> WithoutFences(List<string> lines)
    {
        bool inside = false;
        foreach (string line in lines)
        {
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inside = !inside;
                continue;
            }

            if (!inside)
            {
                yield return line;
            }
        }
    }

    private static string Fenced(List<string> lines) => FencedBlocks(lines).FirstOrDefault() ?? string.Empty;

    private static List<string> FencedBlocks(List<string> lines)
    {
        var blocks = new List<string>();
        StringBuilder? current = null;
        foreach (string line in lines)
        {
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                if (current is null)
                {
                    current = new StringBuilder();
                }
                else
                {
                    blocks.Add(current.ToString().TrimEnd('\n'));
                    current = null;
                }

                continue;
            }

            current?.Append(line).Append('\n');
        }

        return blocks;
    }
}
