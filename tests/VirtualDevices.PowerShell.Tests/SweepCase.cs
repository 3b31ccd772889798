using Xunit.Abstractions;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>
/// The id of one generated case, as a theory argument: shown whole in test names (xunit cuts string arguments at
/// 50 characters, and the ids say which command, object and binding a failing case is), and serializable so that
/// each case is a test of its own.
/// </summary>
public sealed class SweepCase : IXunitSerializable
{
    /// <summary>For the deserializer.</summary>
    public SweepCase()
    {
        Id = "";
    }

    /// <summary>A case by its id.</summary>
    /// <param name="id">The id.</param>
    public SweepCase(string id)
    {
        Id = id;
    }

    /// <summary>The id.</summary>
    public string Id { get; private set; }

    /// <inheritdoc/>
    public void Deserialize(IXunitSerializationInfo info) => Id = info.GetValue<string>(nameof(Id));

    /// <inheritdoc/>
    public void Serialize(IXunitSerializationInfo info) => info.AddValue(nameof(Id), Id);

    /// <inheritdoc/>
    public override string ToString() => Id;
}
