using System.Xml.Linq;

namespace VirtualDevices.HelpGenerator;

/// <summary>Writes MAML (the XML help format Get-Help reads for binary modules) from parsed markdown pages.</summary>
public static class MamlWriter
{
    private static readonly XNamespace s_msh = "http://msh";
    private static readonly XNamespace s_maml = "http://schemas.microsoft.com/maml/2004/10";
    private static readonly XNamespace s_command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private static readonly XNamespace s_dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    /// <summary>Builds the help document of several cmdlets.</summary>
    /// <param name="pages">The parsed pages.</param>
    public static XDocument Write(IEnumerable<CmdletHelp> pages)
    {
        var root = new XElement(s_msh + "helpItems", new XAttribute("schema", "maml"));
        foreach (CmdletHelp page in pages)
        {
            root.Add(Command(page));
        }

        return new XDocument(new XDeclaration("1.0", "utf-8", null), root);
    }

    private static XElement Command(CmdletHelp page)
    {
        string[] verbNoun = page.Name.Split('-', 2);
        var command = new XElement(s_command + "command",
            new XAttribute(XNamespace.Xmlns + "maml", s_maml),
            new XAttribute(XNamespace.Xmlns + "command", s_command),
            new XAttribute(XNamespace.Xmlns + "dev", s_dev),
            new XElement(s_command + "details",
                new XElement(s_command + "name", page.Name),
                new XElement(s_command + "verb", verbNoun[0]),
                new XElement(s_command + "noun", verbNoun.Length > 1 ? verbNoun[1] : string.Empty),
                Description(page.Synopsis)),
            Description(page.Description));

        var syntax = new XElement(s_command + "syntax");
        foreach (SyntaxHelp set in page.Syntax.Count > 0 ? page.Syntax : [new SyntaxHelp("(All)", true, page.Name)])
        {
            var item = new XElement(s_command + "syntaxItem", new XElement(s_maml + "name", page.Name));
            foreach ((ParameterHelp parameter, List<KeyValuePair<string, string>> block) in ParametersOf(page, set.SetName))
            {
                item.Add(Parameter(parameter, block));
            }

            syntax.Add(item);
        }

        command.Add(syntax);
        command.Add(new XElement(s_command + "parameters", page.Parameters.Where(p => p.Blocks.Count > 0).Select(p => Parameter(p, p.Blocks[0]))));
        command.Add(new XElement(s_command + "inputTypes", page.Inputs.Select(t =>
            new XElement(s_command + "inputType", new XElement(s_dev + "type", new XElement(s_maml + "name", t.Name)), Description(t.Description)))));
        command.Add(new XElement(s_command + "returnValues", page.Outputs.Select(t =>
            new XElement(s_command + "returnValue", new XElement(s_dev + "type", new XElement(s_maml + "name", t.Name)), Description(t.Description)))));
        command.Add(new XElement(s_maml + "alertSet", new XElement(s_maml + "alert", Paragraphs(page.Notes))));
        int number = 0;
        command.Add(new XElement(s_command + "examples", page.Examples.Select(e =>
            new XElement(s_command + "example",
                new XElement(s_maml + "title", $"-------------------------- {e.Title} --------------------------"),
                new XElement(s_dev + "code", e.Code),
                new XElement(s_dev + "remarks", Paragraphs(e.Remarks)),
                new XAttribute("number", ++number)))));
        // platyPS puts the page's "online version" first among the links, as "Online Version:": Get-Help -Online
        // opens the first link that has a URI (and only then the cmdlet's HelpUri).
        string online = page.FrontMatter.FirstOrDefault(f => f.Key == "online version").Value ?? string.Empty;
        IEnumerable<KeyValuePair<string, string>> links = online.Length > 0
            ? page.Links.Prepend(new("Online Version:", online))
            : page.Links;
        command.Add(new XElement(s_command + "relatedLinks", links.Select(l =>
            new XElement(s_maml + "navigationLink", new XElement(s_maml + "linkText", l.Key), new XElement(s_maml + "uri", l.Value)))));
        command.Descendants().Attributes("number").Remove();
        return command;
    }

    private static IEnumerable<(ParameterHelp, List<KeyValuePair<string, string>>)> ParametersOf(CmdletHelp page, string set)
    {
        foreach (ParameterHelp parameter in page.Parameters)
        {
            foreach (List<KeyValuePair<string, string>> block in parameter.Blocks)
            {
                string sets = Field(block, "Parameter Sets");
                if (sets == "(All)" || sets.Split(',').Select(s => s.Trim()).Contains(set))
                {
                    yield return (parameter, block);
                    break;
                }
            }
        }
    }

    private static XElement Parameter(ParameterHelp parameter, List<KeyValuePair<string, string>> block)
    {
        string type = Field(block, "Type");
        string position = Field(block, "Position");
        string aliases = Field(block, "Aliases");
        bool isSwitch = type == "SwitchParameter";
        var element = new XElement(s_command + "parameter",
            new XAttribute("required", Field(block, "Required").Equals("True", StringComparison.OrdinalIgnoreCase) ? "true" : "false"),
            new XAttribute("variableLength", "true"),
            new XAttribute("globbing", Field(block, "Accept wildcard characters").Equals("True", StringComparison.OrdinalIgnoreCase) ? "true" : "false"),
            new XAttribute("pipelineInput", Field(block, "Accept pipeline input")),
            new XAttribute("position", position.Equals("Named", StringComparison.OrdinalIgnoreCase) ? "named" : position),
            new XAttribute("aliases", aliases.Length == 0 ? "none" : aliases),
            new XElement(s_maml + "name", parameter.Name),
            Description(parameter.Description));
        if (!isSwitch)
        {
            element.Add(new XElement(s_command + "parameterValue", new XAttribute("required", "true"), new XAttribute("variableLength", "false"), type));
        }

        element.Add(new XElement(s_dev + "type", new XElement(s_maml + "name", type), new XElement(s_maml + "uri")));
        element.Add(new XElement(s_dev + "defaultValue", Field(block, "Default value")));
        return element;
    }

    private static string Field(List<KeyValuePair<string, string>> block, string key) => block.FirstOrDefault(f => f.Key == key).Value ?? string.Empty;

    private static XElement Description(string text) => new(s_maml + "description", Paragraphs(text));

    private static IEnumerable<XElement> Paragraphs(string text) =>
        text.Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(p => new XElement(s_maml + "para", p.Trim()));
}
