namespace VirtualDevices.PowerShell.Commands;

/// <summary>
/// What the Get-*Server cmdlets share: -Name (wildcards; default all) matched against the services of one type running
/// in the session, each written as its server with its name; a name without wildcards that matches nothing is a
/// non-terminating ServiceNotFound error.
/// </summary>
/// <typeparam name="TService">The hosted service that runs the family's server.</typeparam>
public abstract class GetServerCommand<TService> : PSCmdlet
    where TService : IHostedService
{
    /// <summary>Names of servers; wildcards are allowed (default: all).</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ServerNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>What the family's servers are called in messages ("NBD server").</summary>
    protected abstract string ServerKind { get; }

    /// <summary>The server a service runs.</summary>
    /// <param name="service">The service.</param>
    protected abstract object ServerOf(TService service);

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        IReadOnlyList<HostedName<TService>> servers = ModuleSession.Current.Host.GetServices<TService>();
        foreach (string pattern in Name ?? ["*"])
        {
            var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
            var matches = servers.Where(s => wildcard.IsMatch(s.Name)).ToList();
            if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                WriteError(ErrorRecords.FromException(new DeviceException(DeviceErrorIds.Service.NotFound, DeviceErrorCategory.ObjectNotFound, $"No {ServerKind} named '{pattern}' runs in this session.", pattern), pattern));
            }

            foreach ((string name, TService service) in matches)
            {
                WriteObject(ServerObjects.Named(ServerOf(service), name));
            }
        }
    }
}
