using System.Diagnostics;

namespace VirtualDevices.XenLab.Checks;

/// <summary>Runs a real tool of dom0 (xenstore-read, xenstore-ls, xl...) and returns its stdout; a non-zero exit
/// fails the check with the tool's stderr.</summary>
internal static class ExternalTool
{
    public static async Task<string> RunAsync(string file, IEnumerable<string> arguments, CancellationToken cancellationToken, bool check = true)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new CheckFailedException($"cannot start {file}");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        string output = await stdout.ConfigureAwait(false);
        string errors = await stderr.ConfigureAwait(false);
        if (check && process.ExitCode != 0)
        {
            throw new CheckFailedException($"{file} {string.Join(' ', start.ArgumentList)} exited {process.ExitCode}: {errors.Trim()}");
        }

        return output;
    }

    public static Task<string> RunAsync(string file, CancellationToken cancellationToken, params string[] arguments) =>
        RunAsync(file, arguments, cancellationToken);
}
