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
            string name => ModuleSession.Current.Host.TryGetDevice(name, out IDevice? device) ? device : new UnknownDevice(name),
            // Items of a list are resolved one by one and stay scalars: the list itself already binds to an array
            // parameter (`-Device $a, $b`), and wrapping each device again would make an array of arrays.
            object[] array => ResolveAll(array),

            // A device object comes back as a one-element array of its exact element type: PowerShell binds pipeline
            // input and positional arguments first without coercion, and that pass skips a scalar given to an array
            // parameter, so a piped or positional device used to fall through to -Path, converted to a string
            // ("memory0 (memory: memory)", taken for a drive). Names stay scalars, so that they still reach -Path first.
            IBlockDevice block when !Scalar => new[] { block },
            IDevice device when !Scalar => new[] { device },
            _ => value,
        };
    }

    /// <summary>
    /// Resolves a list item by item, typed as the most specific device array it fits: as for one device, binding
    /// without coercion (which comes first) must find the device parameter, or `Get-BlockDeviceInfo $a, $b` would
    /// bind to -Path by converting the devices to strings.
    /// </summary>
    private object ResolveAll(object[] array)
    {
        object?[] items = array.Select(Resolve).ToArray();
        if (Scalar)
        {
            return items;
        }

        if (items.All(item => item is IBlockDevice))
        {
            return items.Cast<IBlockDevice>().ToArray();
        }

        return items.All(item => item is IDevice) ? items.Cast<IDevice>().ToArray() : items;
    }

    private static object? Resolve(object? item)
    {
        object? value = item is PSObject ps ? ps.BaseObject : item;
        return value is string name
            ? ModuleSession.Current.Host.TryGetDevice(name, out IDevice? device) ? device : new UnknownDevice(name)
            : value;
    }
}
