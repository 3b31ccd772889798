namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Validates a -Name given to a new device, server or capture by the core's naming rule (<see cref="HostNames"/>),
/// at parameter binding (each element of an array), so a bad name is a ParameterArgumentValidationError before
/// anything is made.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ValidateHostNameAttribute : ValidateEnumeratedArgumentsAttribute
{
    /// <inheritdoc/>
    protected override void ValidateElement(object element)
    {
        string? name = element as string;
        if (!HostNames.IsValid(name))
        {
            throw new ValidationMetadataException(HostNames.Invalid(name ?? string.Empty).Message);
        }
    }
}
