using System.Text;

namespace VirtualDevices.HelpGenerator;

/// <summary>Turns an about_ topic in markdown into the plain-text .help.txt that Get-Help shows.</summary>
public static class AboutTopicWriter
{
    /// <summary>Converts the markdown: headings become upper-case lines, code fences are indented, the rest is kept.</summary>
    /// <param name="markdown">The topic's markdown.</param>
    public static string Convert(string markdown)
    {
        var text = new StringBuilder();
        bool code = false;
        foreach (string raw in markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
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
                string heading = raw.TrimStart('#').Trim();
                text.Append(raw.StartsWith("# ", StringComparison.Ordinal) ? heading : heading.ToUpperInvariant()).Append('\n');
            }
            else
            {
                text.Append(raw.Length > 0 ? "    " + raw.Replace("`", string.Empty, StringComparison.Ordinal) : string.Empty).Append('\n');
            }
        }

        return text.ToString();
    }
}
