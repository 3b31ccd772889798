namespace VirtualDevices.Hosting;

/// <summary>
/// What a name a user gives a device or service of a <see cref="DeviceHost"/> may be: one or more ASCII letters,
/// digits, '_', '.' and '-'. Such a name needs no quoting in a command line, a file name or a URI, and cannot be
/// mistaken for a wildcard pattern (the Get- cmdlets take wildcards) or a path.
/// </summary>
public static class HostNames
{
    /// <summary>The rule in words, for error messages.</summary>
    public const string Rule = "one or more of the letters A-Z and a-z, the digits 0-9, '_', '.' and '-'";

    /// <summary>True when <paramref name="name"/> follows the rule.</summary>
    /// <param name="name">A name a user gave.</param>
    public static bool IsValid(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '.' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The typed error for a name that breaks the rule (<c>InvalidName</c>, InvalidArgument).</summary>
    /// <param name="name">The name.</param>
    public static DeviceException Invalid(string name) =>
        new(DeviceErrorIds.Device.InvalidName, DeviceErrorCategory.InvalidArgument, $"'{name}' is not a valid name: use {Rule}.", name);
}
