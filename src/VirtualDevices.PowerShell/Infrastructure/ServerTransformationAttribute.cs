namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// What the server transformations share: a server parameter takes the name of a server of the session as well as
/// the object (arrays element by element); the family says how a name is looked up, and what an unknown name binds.
/// </summary>
public abstract class ServerTransformationAttribute : ArgumentTransformationAttribute
{
    /// <inheritdoc/>
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject ps ? ps.BaseObject : inputData;
        return value switch
        {
            string name => FromName(name),
            object[] array => array.Select(item => Transform(engineIntrinsics, item)).ToArray(),
            _ => value,
        };
    }

    /// <summary>The server of the session named <paramref name="name"/>, or the family's placeholder for an unknown name.</summary>
    /// <param name="name">The name given.</param>
    protected abstract object FromName(string name);

    /// <summary>The service of type <typeparamref name="TService"/> named <paramref name="name"/> (case-insensitive) in the session, or null.</summary>
    /// <typeparam name="TService">The service type.</typeparam>
    /// <param name="name">The name given.</param>
    protected static TService? FindService<TService>(string name)
        where TService : class, IHostedService =>
        ModuleSession.Current.Host.GetServices<TService>()
            .FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)).Service;
}
