using System.Management.Automation;
using VirtualDevices.Block;
using VirtualDevices.Devices;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Lets a device parameter take the name of a device open in the session as well as the device object, so that
/// <c>-Device disk0</c> and <c>Get-BlockDevice disk0 | ...</c> both work, and pipeline objects whose
/// <c>Device</c> property holds a name bind by property name. A name that no device has binds an
/// <see cref="UnknownDevice"/>, which the command reports as a non-terminating DeviceNotFound error (honouring
/// -ErrorAction) instead of failing the whole command at binding.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class DeviceTransformationAttribute : ArgumentTransformationAttribute
{
    /// <summary>
    /// True for a parameter that takes one device (not an array): a device object is then passed on as it is.
    /// </summary>
    public bool Scalar { get; set; }

    /// <inheritdoc/>
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject ps ? ps.BaseObject : inputData;
        return value switch
        {
            string name => ModuleSession.Current.Devices.TryGet(name, out IDevice? device) ? device : new UnknownDevice(name),
            object[] array => array.Select(item => Transform(engineIntrinsics, item)).ToArray(),

            // A device object comes back as a one-element array of its exact element type: PowerShell binds pipeline
            // input and positional arguments first without coercion, and that pass skips a scalar given to an array
            // parameter, so a piped or positional device used to fall through to -Path, converted to a string
            // ("memory0 (memory: memory)", taken for a drive). Names stay scalars, so that they still reach -Path first.
            IBlockDevice block when !Scalar => new[] { block },
            IDevice device when !Scalar => new[] { device },
            _ => value,
        };
    }
}
