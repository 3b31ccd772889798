namespace VirtualDevices.PowerShell.Commands.Devices;

/// <summary>
/// What the statistics cmdlets share: devices chosen by name patterns (-Name) or given as objects or names
/// (-Device, from the pipeline too), optionally of one family (-Kind).
/// </summary>
public abstract class DeviceSelectionCommand : AsyncCmdlet
{
    /// <summary>The parameter set of -Name.</summary>
    protected const string NameSet = "Name";

    /// <summary>The parameter set of -Device.</summary>
    protected const string DeviceSet = "Device";

    /// <summary>Names of devices; wildcards are allowed (default: every device of the session).</summary>
    [Parameter(Position = 0, ParameterSetName = NameSet)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>Devices, or their names; binds piped devices and the Device property of piped objects.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = DeviceSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IDevice[] Device { get; set; } = null!;

    /// <summary>Only devices of this family.</summary>
    [Parameter]
    public DeviceKind Kind { get; set; }

    /// <summary>
    /// The devices chosen: <paramref name="given"/> (the -Device objects) filtered by -Kind, or the session's devices
    /// matching -Name, with an error for each plain name that matches nothing.
    /// </summary>
    /// <param name="given">The devices bound to -Device, when that is the parameter set.</param>
    protected IReadOnlyList<IDevice> SelectDevices(IEnumerable<IDevice> given)
    {
        DeviceKind? kind = MyInvocation.BoundParameters.ContainsKey(nameof(Kind)) ? Kind : null;
        if (ParameterSetName == DeviceSet)
        {
            return given.Where(d => !UnknownDevice.Report(this, d) && (kind is null || d.Kind == kind)).Distinct().ToArray();
        }

        IDevice[] devices = SessionHost.Devices.Where(d => kind is null || d.Kind == kind).ToArray();
        var selected = new List<IDevice>();
        foreach (string pattern in Name ?? ["*"])
        {
            var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
            IDevice[] matches = devices.Where(d => wildcard.IsMatch(d.Name)).ToArray();
            if (matches.Length == 0 && !WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                WriteError(ErrorRecords.FromException(new DeviceNotFoundException(pattern), pattern));
            }

            selected.AddRange(matches.Where(m => !selected.Contains(m)));
        }

        return selected;
    }
}
