// The namespaces nearly every cmdlet, provider and helper of this module uses: the engine's, the module's own
// infrastructure, and the core's device families.
global using System.Management.Automation;
global using VirtualDevices.Block;
global using VirtualDevices.Devices;
global using VirtualDevices.Hosting;
global using VirtualDevices.Nbd.Client;
global using VirtualDevices.Nbd.Server;
global using VirtualDevices.PowerShell.Infrastructure;
global using VirtualDevices.Xen.Xenstore;
global using VirtualDevices.Xen.Xenstore.Client;
global using VirtualDevices.Xen.Xenstore.Server;
