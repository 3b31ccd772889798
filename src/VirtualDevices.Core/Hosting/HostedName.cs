namespace VirtualDevices.Hosting;

/// <summary>A service of a <see cref="DeviceHost"/> with the name the host knows it by.</summary>
/// <typeparam name="T">The service's type.</typeparam>
/// <param name="Name">Its name, unique among the host's services.</param>
/// <param name="Service">The service.</param>
public readonly record struct HostedName<T>(string Name, T Service);
