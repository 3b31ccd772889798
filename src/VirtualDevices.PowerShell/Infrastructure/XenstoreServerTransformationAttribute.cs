using System.Management.Automation;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Lets a server parameter take the name of an embedded xenstore server of the session as well as the object; an
/// unknown name binds a placeholder that the command reports as a non-terminating XenstoreServerNotFound error
/// (<see cref="UnknownServers"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class XenstoreServerTransformationAttribute : ArgumentTransformationAttribute
{
    /// <inheritdoc/>
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject ps ? ps.BaseObject : inputData;
        return value switch
        {
            string name => ModuleSession.Current.Host.GetServices<XenstoreServerService>()
                .FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)).Service?.Server
                ?? (object)UnknownServers.Xenstore(name),
            object[] array => array.Select(item => Transform(engineIntrinsics, item)).ToArray(),
            _ => value,
        };
    }
}
