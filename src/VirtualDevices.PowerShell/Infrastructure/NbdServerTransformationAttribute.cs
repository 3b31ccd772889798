using System.Management.Automation;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>Lets a server parameter take the name of an NBD server of the session as well as the object.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class NbdServerTransformationAttribute : ArgumentTransformationAttribute
{
    /// <inheritdoc/>
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject ps ? ps.BaseObject : inputData;
        return value switch
        {
            string name => ModuleSession.Current.Services.OfType<NbdServerHost>()
                .FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)).Service?.Server
                ?? throw new ArgumentTransformationMetadataException($"No NBD server named '{name}' runs in this session. Get-NbdServer lists them."),
            object[] array => array.Select(item => Transform(engineIntrinsics, item)).ToArray(),
            _ => value,
        };
    }
}
