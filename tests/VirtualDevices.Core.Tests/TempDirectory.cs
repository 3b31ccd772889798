namespace VirtualDevices.Tests;

/// <summary>A directory under /tmp removed with everything in it when the test ends.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("vdtest-").FullName;
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Creates a file of <paramref name="size"/> bytes filled with a position-dependent pattern.</summary>
    public string PatternFile(string name, int size, int seed = 1)
    {
        string path = File(name);
        System.IO.File.WriteAllBytes(path, Pattern(size, seed));
        return path;
    }

    public static byte[] Pattern(int size, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
