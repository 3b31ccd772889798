using System.Text;

namespace VirtualDevices.HelpGenerator;

/// <summary>Turns an about_ topic in markdown into the plain-text .help.txt that Get-Help shows.</summary>
/// <remarks>
/// Get-Help takes an about topic's synopsis from the fifth line of the file, whatever it holds (HelpFileHelpInfo
/// reads line 5), so the file must open as PowerShell's own topics do:
/// <code>
/// TOPIC
///     about_Name
///
/// SHORT DESCRIPTION
///     The synopsis, on one line.
/// </code>
/// The markdown's "# about_Name" heading and its "## Short description" section are moved there; the other sections
/// follow in their order.
/// </remarks>
public static class AboutTopicWriter
{
    /// <summary>The line of the text file Get-Help reads the synopsis from (1-based).</summary>
    public const int SynopsisLine = 5;

    /// <summary>Converts the markdown: headings become upper-case lines, code fences are indented, the rest is kept.</summary>
    /// <param name="markdown">The topic's markdown: a "# about_Name" heading and a "## Short description" section.</param>
    /// <exception cref="FormatException">The topic has no title or no short description.</exception>
    public static string Convert(string markdown)
    {
        string[] lines = markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        int title = Array.FindIndex(lines, l => l.StartsWith("# ", StringComparison.Ordinal));
        int shortHeading = Array.FindIndex(lines, l => l.StartsWith("## ", StringComparison.Ordinal)
            && l[3..].Trim().Equals("Short description", StringComparison.OrdinalIgnoreCase));
        if (title < 0 || shortHeading < 0)
        {
            throw new FormatException("an about topic needs a '# about_Name' title and a '## Short description' section");
        }

        int shortEnd = Array.FindIndex(lines, shortHeading + 1, l => l.StartsWith('#'));
        if (shortEnd < 0)
        {
            shortEnd = lines.Length;
        }

        string synopsis = string.Join(' ', lines[(shortHeading + 1)..shortEnd].Select(l => l.Trim()).Where(l => l.Length > 0))
            .Replace("`", string.Empty, StringComparison.Ordinal);
        if (synopsis.Length == 0)
        {
            throw new FormatException("the '## Short description' section of an about topic is empty");
        }

        var text = new StringBuilder();
        text.Append("TOPIC\n    ").Append(lines[title][2..].Trim()).Append("\n\n");
        text.Append("SHORT DESCRIPTION\n    ").Append(synopsis).Append("\n\n");
        var rest = lines.Where((_, i) => i != title && (i < shortHeading || i >= shortEnd)).SkipWhile(l => l.Trim().Length == 0);
        bool code = false;
        foreach (string raw in rest)
        {
            if (raw.StartsWith("```", StringComparison.Ordinal))
            {
                code = !code;
                continue;
            }

            if (code)
            {
                text.Append("    ").Append(raw).Append('\n');
            }
            else if (raw.StartsWith('#'))
            {
                text.Append(raw.TrimStart('#').Trim().ToUpperInvariant()).Append('\n');
            }
            else
            {
                text.Append(raw.Length > 0 ? "    " + raw.Replace("`", string.Empty, StringComparison.Ordinal) : string.Empty).Append('\n');
            }
        }

        return text.ToString();
    }
}
