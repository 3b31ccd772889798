using VirtualDevices.Network.Capture;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Stops background captures: the frames their taps still hold are written, then the files are closed.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "NetworkCapture", DefaultParameterSetName = NameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Stop-NetworkCapture.md")]
[OutputType(typeof(NetworkCapture))]
public sealed class StopNetworkCaptureCommand : AsyncCmdlet
{
    private const string NameSet = "Name";
    private const string CaptureSet = "Capture";

    /// <summary>Names of captures; wildcards are allowed (default: every capture of the session).</summary>
    [Parameter(Position = 0, ParameterSetName = NameSet)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ServerNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>Captures, as Start-NetworkCapture and Get-NetworkCapture write them.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = CaptureSet)]
    public NetworkCapture[] Capture { get; set; } = null!;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        IReadOnlyList<HostedName<NetworkCapture>> running = SessionHost.GetServices<NetworkCapture>();
        var chosen = new List<HostedName<NetworkCapture>>();
        if (ParameterSetName == CaptureSet)
        {
            chosen.AddRange(running.Where(r => Capture.Contains(r.Service)));
        }
        else
        {
            foreach (string pattern in Name ?? ["*"])
            {
                var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
                var matches = running.Where(r => wildcard.IsMatch(r.Name)).ToList();
                if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(pattern))
                {
                    WriteError(ErrorRecords.FromException(new DeviceException(DeviceErrorIds.Service.NotFound, DeviceErrorCategory.ObjectNotFound,
                        $"No capture named '{pattern}' runs in this session.", pattern), pattern));
                }

                chosen.AddRange(matches.Where(m => !chosen.Contains(m)));
            }
        }

        foreach ((string name, NetworkCapture capture) in chosen)
        {
            if (!ShouldProcess(name, $"Stop the capture to {capture.Path}"))
            {
                continue;
            }

            Run(async cancellationToken =>
            {
                await SessionHost.StopServiceAsync(capture, cancellationToken).ConfigureAwait(false);
                if (capture.Error is { } error)
                {
                    EmitError(error, name);
                }

                Emit(ServerObjects.Named(capture, name));
            }, name);
        }
    }
}
