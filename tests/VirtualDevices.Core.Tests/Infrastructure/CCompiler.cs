namespace VirtualDevices.Tests.Infrastructure;

/// <summary>Compiles a small C program (header checks, libxenstore clients) with the system gcc.</summary>
public static class CCompiler
{
    /// <summary>Compiles <paramref name="source"/> into an executable in <paramref name="directory"/> and returns its path.</summary>
    public static async Task<string> CompileAsync(string directory, string name, string source, params string[] extraArguments)
    {
        string sourcePath = Path.Combine(directory, name + ".c");
        string output = Path.Combine(directory, name);
        await File.WriteAllTextAsync(sourcePath, source);
        string[] arguments = ["-O1", "-Wall", "-o", output, sourcePath, .. extraArguments];
        (await ExternalProcess.RunAsync("gcc", arguments, TimeSpan.FromSeconds(120))).EnsureSuccess($"gcc {name}.c");
        return output;
    }
}
