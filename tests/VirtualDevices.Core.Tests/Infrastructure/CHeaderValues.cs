using System.Globalization;
using System.Runtime.InteropServices;

namespace VirtualDevices.Tests.Infrastructure;

/// <summary>
/// The values a C program compiled against the system headers prints (<c>name=value</c> lines), compared with what
/// our bindings use. Every comparison is recorded; <see cref="AssertAllMatch"/> fails with the whole list of
/// mismatches, and also when a printed value was never compared (a value added to one side only does not pass
/// unnoticed).
/// </summary>
public sealed class CHeaderValues
{
    private readonly Dictionary<string, long> _header;
    private readonly List<string> _mismatches = [];
    private readonly HashSet<string> _compared = new(StringComparer.Ordinal);

    private CHeaderValues(Dictionary<string, long> header) => _header = header;

    /// <summary>Compiles <paramref name="source"/> in <paramref name="directory"/>, runs it and reads what it printed.</summary>
    public static async Task<CHeaderValues> CompileAndRunAsync(string directory, string name, string source, params string[] compilerArguments)
    {
        string program = await CCompiler.CompileAsync(directory, name, source, compilerArguments);
        ProcessResult result = (await ExternalProcess.RunAsync(program, [])).EnsureSuccess(name);
        return new CHeaderValues(result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2))
            .ToDictionary(parts => parts[0], parts => long.Parse(parts[1], CultureInfo.InvariantCulture)));
    }

    /// <summary>The value the program printed for <paramref name="name"/> (counted as compared).</summary>
    public long this[string name]
    {
        get
        {
            _compared.Add(name);
            return _header[name];
        }
    }

    /// <summary>Compares one printed value with the binding's.</summary>
    public void Check(string name, long binding)
    {
        _compared.Add(name);
        if (!_header.TryGetValue(name, out long header))
        {
            _mismatches.Add($"{name}: not printed by the C program");
        }
        else if (header != binding)
        {
            _mismatches.Add($"{name}: the header says {header}, the binding uses {binding}");
        }
    }

    /// <summary>Compares <c>sizeof(struct cStruct)</c> with the marshalled size of <typeparamref name="T"/>.</summary>
    public void Size<T>(string cStruct)
        where T : struct => Check($"sizeof(struct {cStruct})", Marshal.SizeOf<T>());

    /// <summary>Compares <c>offsetof(struct cStruct, cField)</c> with the offset of <typeparamref name="T"/>'s field.</summary>
    public void Offset<T>(string cStruct, string cField, string field)
        where T : struct => Check($"offsetof(struct {cStruct}, {cField})", Marshal.OffsetOf<T>(field).ToInt64());

    /// <summary>Fails with every mismatch, or with the printed values never compared.</summary>
    public void AssertAllMatch()
    {
        Assert.True(_mismatches.Count == 0, string.Join(Environment.NewLine, _mismatches));
        string[] neverCompared = [.. _header.Keys.Where(k => !_compared.Contains(k))];
        Assert.True(neverCompared.Length == 0, "printed by the C program but compared with nothing: " + string.Join(", ", neverCompared));
    }
}
