namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Turns the -Path, -LiteralPath, -Device or -Uri of a block cmdlet into targets, on the pipeline thread: -Path
/// resolves wildcards as Get-Content does (a pattern that matches nothing is no error, a plain name that is no file
/// may be a device of the session), -LiteralPath is taken as written.
/// </summary>
internal static class BlockTargets
{
    public static IEnumerable<BlockTarget> Bind(PSCmdlet cmdlet, string parameterSet, string[]? paths, string[]? literalPaths, IBlockDevice[]? devices, string? uri)
    {
        switch (parameterSet)
        {
            case "Uri":
                return [BlockTarget.Bind(cmdlet, null, null, uri)];
            case "Device":
                return devices!.Select(d => BlockTarget.Bind(cmdlet, null, d, null));
            case "LiteralPath":
                return literalPaths!.Select(p => BlockTarget.ForFile(cmdlet.GetUnresolvedProviderPathFromPSPath(p)));
            default:
                return paths!.SelectMany(p => ResolvePath(cmdlet, p)).ToList();
        }
    }

    private static IEnumerable<BlockTarget> ResolvePath(PSCmdlet cmdlet, string path)
    {
        if (!WildcardPattern.ContainsWildcardCharacters(path))
        {
            return [BlockTarget.Bind(cmdlet, path, null, null)];
        }

        try
        {
            var matches = cmdlet.GetResolvedProviderPathFromPSPath(path, out ProviderInfo provider);
            if (provider.Name != "FileSystem")
            {
                cmdlet.WriteError(ErrorRecords.FromException(new ArgumentException($"'{path}' is not a file-system path."), path));
                return [];
            }

            return matches.Select(BlockTarget.ForFile).ToList();
        }
        catch (ItemNotFoundException)
        {
            return [];
        }
    }
}
