using System.Management.Automation;
using VirtualDevices.Devices;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Lets a device parameter take the name of a device open in the session as well as the device object, so that
/// <c>-Device disk0</c> and <c>Get-BlockDevice disk0 | ...</c> both work, and pipeline objects whose
/// <c>Device</c> property holds a name bind by property name.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class DeviceTransformationAttribute : ArgumentTransformationAttribute
{
    /// <inheritdoc/>
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject ps ? ps.BaseObject : inputData;
        return value switch
        {
            string name => ModuleSession.Current.Devices.TryGet(name, out IDevice? device)
                ? device
                : throw new ArgumentTransformationMetadataException($"No device named '{name}' is open in this session. Get-BlockDevice lists them."),
            object[] array => array.Select(item => Transform(engineIntrinsics, item)).ToArray(),
            _ => value,
        };
    }
}
