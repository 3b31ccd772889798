namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Validates a -Name given to a new device or server by the core's naming rule (<see cref="HostNames"/>), at
/// parameter binding, so a bad name is a ParameterArgumentValidationError before anything is made.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ValidateHostNameAttribute : ValidateArgumentsAttribute
{
    /// <inheritdoc/>
    protected override void Validate(object arguments, EngineIntrinsics engineIntrinsics)
    {
        string? name = arguments as string;
        if (!HostNames.IsValid(name))
        {
            throw new ValidationMetadataException(HostNames.Invalid(name ?? string.Empty).Message);
        }
    }
}
