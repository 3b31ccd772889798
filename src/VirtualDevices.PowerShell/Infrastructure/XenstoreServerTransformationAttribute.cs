namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Lets a server parameter take the name of an embedded xenstore server of the session as well as the object; an
/// unknown name binds a placeholder that the command reports as a non-terminating XenstoreServerNotFound error
/// (<see cref="UnknownServers"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class XenstoreServerTransformationAttribute : ServerTransformationAttribute
{
    /// <inheritdoc/>
    protected override object FromName(string name) => FindService<XenstoreServerService>(name)?.Server ?? (object)UnknownServers.Xenstore(name);
}
