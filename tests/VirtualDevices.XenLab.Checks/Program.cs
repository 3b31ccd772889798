// The xenstore checks of the Xen lab (issue 10), run inside dom0 by tests/Lab/run-checks.sh: our xenstore client over
// xenstored's unix socket and over /dev/xen/xenbus, against whichever daemon this dom0 runs (the lab boots once with
// C xenstored and once with oxenstored), then between dom0 and a guest domain. Prints one check line per check
// ("name<TAB>pass|fail|skip<TAB>message"); the exit status is 1 when a check failed.
//
// Arguments: none for everything, or the groups to run: socket, xenbus, guest.
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.XenLab.Checks;

// LAB_XENSTORE_SOCKET points elsewhere for a dry run outside the lab (against Start-XenstoreServer).
string SocketPath = Environment.GetEnvironmentVariable("LAB_XENSTORE_SOCKET") ?? "/var/run/xenstored/socket";
const string DevicePath = "/dev/xen/xenbus";
string[] groups = args.Length > 0 ? args : ["socket", "xenbus", "guest"];
var runner = new CheckRunner();
Console.Error.WriteLine($"xenlab-checks: daemon {Environment.GetEnvironmentVariable("LAB_XENSTORED_DAEMON") ?? "?"}, groups {string.Join(',', groups)}");

// Reconnection is off: a dropped connection must fail the check that saw it, not be papered over.
XenstoreClient OverSocket() => XenstoreClient.ConnectAsync(new XenstoreClientOptions { SocketPath = SocketPath, Reconnect = false }).AsTask().GetAwaiter().GetResult();
XenstoreClient OverXenbus() => XenstoreClient.OpenDevice(DevicePath);

foreach (string group in groups)
{
    switch (group)
    {
        case "socket":
            if (File.Exists(SocketPath))
            {
                await new XenstoreChecks(runner, "socket", OverSocket).RunAsync();
            }
            else
            {
                CheckRunner.Emit("xenstore.socket.connect", "fail", $"no xenstored socket at {SocketPath}");
            }

            break;
        case "xenbus":
            await new XenstoreChecks(runner, "xenbus", OverXenbus).RunAsync();
            break;
        case "guest":
            await new GuestDomainChecks(runner, OverSocket).RunAsync();
            break;
        default:
            Console.Error.WriteLine($"unknown group {group} (socket, xenbus, guest)");
            return 2;
    }
}

return runner.Failed == 0 ? 0 : 1;
