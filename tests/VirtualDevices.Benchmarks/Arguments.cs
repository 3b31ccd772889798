using System.Globalization;

namespace VirtualDevices.Benchmarks;

/// <summary>A minimal parser for <c>positional --name value --flag</c> command lines.</summary>
internal sealed class Arguments
{
    private readonly List<string> _positional = [];
    private readonly Dictionary<string, string?> _named = new(StringComparer.Ordinal);

    /// <param name="args">The command line after the subcommand.</param>
    /// <param name="options">Names that take a value.</param>
    /// <param name="flags">Names that stand alone.</param>
    public static Arguments Parse(string[] args, string[] options, string[]? flags = null)
    {
        flags ??= [];
        var result = new Arguments();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                result._positional.Add(arg);
                continue;
            }

            if (Array.IndexOf(flags, arg) >= 0)
            {
                result._named[arg] = null;
            }
            else if (Array.IndexOf(options, arg) >= 0 && i + 1 < args.Length)
            {
                result._named[arg] = args[++i];
            }
            else
            {
                throw new ArgumentException($"unknown option or missing value: {arg}; options: {string.Join(' ', options)}; flags: {string.Join(' ', flags)}");
            }
        }

        return result;
    }

    public string Positional(int index, string name) =>
        index < _positional.Count ? _positional[index] : throw new ArgumentException($"missing {name}");

    public string? OptionalPositional(int index) => index < _positional.Count ? _positional[index] : null;

    public int Int(string name, int fallback) =>
        _named.TryGetValue(name, out string? value) && value is not null ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

    public long Long(string name, long fallback) =>
        _named.TryGetValue(name, out string? value) && value is not null ? long.Parse(value, CultureInfo.InvariantCulture) : fallback;

    public string? String(string name) => _named.TryGetValue(name, out string? value) ? value : null;

    public bool Flag(string name) => _named.ContainsKey(name);
}
