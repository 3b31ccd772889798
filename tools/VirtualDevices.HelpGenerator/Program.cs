using VirtualDevices.HelpGenerator;

// maml --docs DIR --out DIR            MAML and about_ help for the module folder
// markdown --assembly DLL --docs DIR   refresh docs/<module>/*.md from the cmdlet assembly
// markdown ... --check                 only report pages that disagree with the assembly (exit 1)
string Option(string name) =>
    args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? throw new ArgumentException($"missing {name}");

if (args.Length == 0)
{
    Console.Error.WriteLine("usage: maml --docs DIR --out DIR | markdown --assembly DLL --docs DIR [--check]");
    return 2;
}

string docs = Path.GetFullPath(Option("--docs"));
string pagesDirectory = Path.Combine(docs, "VirtualDevices");
switch (args[0])
{
    case "maml":
    {
        string output = Path.GetFullPath(Option("--out"));
        Directory.CreateDirectory(output);
        var pages = Directory.GetFiles(pagesDirectory, "*.md").Order(StringComparer.Ordinal)
            .Select(f => MarkdownHelpParser.Parse(File.ReadAllText(f))).ToList();
        MamlWriter.Write(pages).Save(Path.Combine(output, "VirtualDevices.PowerShell.dll-Help.xml"));
        foreach (string about in Directory.GetFiles(docs, "about_*.md"))
        {
            File.WriteAllText(Path.Combine(output, Path.GetFileNameWithoutExtension(about) + ".help.txt"), AboutTopicWriter.Convert(File.ReadAllText(about)));
        }

        Console.WriteLine($"help: {pages.Count} cmdlets -> {output}");
        return 0;
    }

    case "markdown":
    {
        bool check = args.Contains("--check");
        Directory.CreateDirectory(pagesDirectory);
        int stale = 0;
        foreach (CmdletMetadata cmdlet in CmdletMetadataReader.Read(Option("--assembly")))
        {
            string path = Path.Combine(pagesDirectory, cmdlet.Name + ".md");
            string? current = File.Exists(path) ? File.ReadAllText(path) : null;
            string expected = MarkdownHelpWriter.Write(cmdlet, current is null ? null : MarkdownHelpParser.Parse(current));
            if (current == expected)
            {
                continue;
            }

            stale++;
            Console.WriteLine($"{(current is null ? "new" : "stale")}: {path}");
            if (!check)
            {
                File.WriteAllText(path, expected);
            }
        }

        return check && stale > 0 ? 1 : 0;
    }

    default:
        Console.Error.WriteLine($"unknown command {args[0]}");
        return 2;
}
