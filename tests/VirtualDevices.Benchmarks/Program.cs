using VirtualDevices.Benchmarks.Commands;

// Each subcommand prints its figure on its last line, so scripts can compare it with the real tools' output.
var commands = new Dictionary<string, Func<string[], Task<int>>>(StringComparer.Ordinal)
{
    ["block-read"] = BlockReadCommand.RunAsync,
    ["block-copy"] = BlockCopyCommand.RunAsync,
    ["xenstore-serve"] = XenstoreServeCommand.RunAsync,
    ["xenstore-ops"] = XenstoreOpsCommand.RunAsync,
    ["xenstore-rtt"] = XenstoreRoundTripCommand.RunAsync,
    ["xenstore-rtt-serve"] = XenstoreRoundTripServeCommand.RunAsync,
    ["xenstore-watches"] = XenstoreWatchesCommand.RunAsync,
    ["nbd-read"] = NbdTransferCommand.ReadAsync,
    ["nbd-write"] = NbdTransferCommand.WriteAsync,
    ["nbd-serve"] = NbdServeCommand.RunAsync,
    ["nbd-copy"] = NbdCopyCommand.RunAsync,
    ["net-memory"] = NetMemoryCommand.RunAsync,
    ["ring-echo"] = RingEchoCommand.RunAsync,
    ["ring-echo-serve"] = RingEchoServeCommand.RunAsync,
};

if (args.Length == 0 || !commands.TryGetValue(args[0], out Func<string[], Task<int>>? command))
{
    Console.Error.WriteLine("usage: VirtualDevices.Benchmarks <command> [arguments]");
    Console.Error.WriteLine("commands: " + string.Join(", ", commands.Keys.Order(StringComparer.Ordinal)));
    return 2;
}

try
{
    return await command(args[1..]);
}
catch (VirtualDevices.DeviceException e)
{
    Console.Error.WriteLine($"{e.ErrorId}: {e.Message}");
    return 1;
}
