namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Lets a server parameter take the name of an NBD server of the session as well as the object; an unknown name binds a
/// placeholder that the command reports as a non-terminating NbdServerNotFound error (<see cref="UnknownServers"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class NbdServerTransformationAttribute : ServerTransformationAttribute
{
    /// <inheritdoc/>
    protected override object FromName(string name) => FindService<NbdServerService>(name)?.Server ?? (object)UnknownServers.Nbd(name);
}
