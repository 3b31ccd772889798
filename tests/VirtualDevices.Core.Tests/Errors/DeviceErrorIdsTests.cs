using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using VirtualDevices.Xen.Xenstore;

namespace VirtualDevices.Tests.Errors;

/// <summary>
/// The error catalogue: every id the module emits is defined once in <see cref="DeviceErrorIds"/>, and no throw site
/// in <c>src/</c> spells an id as a literal (a new failure needs a new catalogue entry, where its id is seen to be new).
/// </summary>
public sealed partial class DeviceErrorIdsTests
{
    public static IReadOnlyDictionary<string, string> Catalogue()
    {
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Type family in typeof(DeviceErrorIds).GetNestedTypes(BindingFlags.Public))
        {
            foreach (FieldInfo field in family.GetFields(BindingFlags.Public | BindingFlags.Static))
            {
                Assert.True(field.IsLiteral && field.FieldType == typeof(string), $"{family.Name}.{field.Name} is not a const string");
                string id = (string)field.GetRawConstantValue()!;
                Assert.False(ids.ContainsKey(id), $"{id} is defined twice: {ids.GetValueOrDefault(id)} and {family.Name}.{field.Name}");
                ids[id] = $"{family.Name}.{field.Name}";
            }
        }

        return ids;
    }

    [Fact]
    public void EveryIdIsDefinedOnceAndIsAStableWord()
    {
        IReadOnlyDictionary<string, string> ids = Catalogue();
        Assert.True(ids.Count >= 60, $"only {ids.Count} ids: the reflection found too few families");
        Assert.All(ids.Keys, id => Assert.Matches("^[A-Z][A-Za-z0-9]+$", id));
    }

    [Fact]
    public void ATimedOutXenstoreWaitHasOneId()
    {
        Assert.Equal("XenstoreWaitTimeout", DeviceErrorIds.Xenstore.WaitTimeout);
        Assert.Equal(DeviceErrorIds.Xenstore.WaitTimeout, new XenstoreException("ETIMEDOUT", "timed out").ErrorId);
        Assert.DoesNotContain("XenstoreTimeout", Catalogue().Keys);
        List<string> stale = Files(Root(), "src", "docs", "tests").Where(f => !f.EndsWith(nameof(DeviceErrorIdsTests) + ".cs", StringComparison.Ordinal)
            && Regex.IsMatch(File.ReadAllText(f), @"\bXenstoreTimeout\b")).ToList();
        Assert.True(stale.Count == 0, "the old id is still used in: " + string.Join(", ", stale));
    }

    [Fact]
    public void NoThrowSiteInSourceSpellsAnIdOutsideTheCatalogue()
    {
        string root = Root();
        IReadOnlyDictionary<string, string> ids = Catalogue();
        var problems = new List<string>();
        foreach (string file in Files(root, "src").Where(f => f.EndsWith(".cs", StringComparison.Ordinal)))
        {
            string relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (relative.EndsWith("Errors/DeviceErrorIds.cs", StringComparison.Ordinal))
            {
                continue;
            }

            problems.AddRange(Check(relative, File.ReadAllText(file), ids));
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void EveryIdTheUsersHelpListsIsInTheCatalogue()
    {
        IReadOnlyDictionary<string, string> ids = Catalogue();
        string help = File.ReadAllText(Path.Combine(Root(), "docs", "about_VirtualDevices.md"));
        List<string> listed = HelpIdLines().Matches(help).SelectMany(m => m.Groups["ids"].Value.Split(", ")).ToList();
        Assert.True(listed.Count >= 30, $"only {listed.Count} ids found in the help's lists");
        Assert.All(listed, id => Assert.True(ids.ContainsKey(id), $"about_VirtualDevices lists {id}, which is not in DeviceErrorIds"));
    }

    [Fact]
    public void TheScanCatchesANewLiteralId()
    {
        IReadOnlyDictionary<string, string> ids = Catalogue();
        string[] offenders =
        [
            """throw new DeviceException("NewLiteral", DeviceErrorCategory.NotSpecified, "x");""",
            """throw new DeviceException("DeviceLocked", DeviceErrorCategory.ResourceBusy, "x");""",
            """    : base("NewLiteral", DeviceErrorCategory.NotSpecified, message)""",
            """new ErrorRecord(e, "NewLiteral", ErrorCategory.NotSpecified, target)""",
            """new Devices.SocketErrors.Server("NewInUse", "NewFailed", DeviceErrorCategory.ConnectionError, null)""",
            """throw new XenstoreException("ENEWERROR", "x");""",
        ];
        foreach (string offender in offenders)
        {
            Assert.NotEmpty(Check("src/X.cs", offender, ids));
        }

        Assert.Empty(Check("src/X.cs", """throw new DeviceException(DeviceErrorIds.Device.Locked, DeviceErrorCategory.ResourceBusy, "x");""", ids));
    }

    /// <summary>The literal ids of one source file that break the rule.</summary>
    private static IEnumerable<string> Check(string file, string text, IReadOnlyDictionary<string, string> ids)
    {
        foreach (Match m in s_literalIdSites.SelectMany(r => r.Matches(text)))
        {
            string id = m.Groups["id"].Value;
            if (!ids.ContainsKey(id))
            {
                yield return $"{file}: '{id}' is not in DeviceErrorIds: {m.Value}";
            }
            else
            {
                yield return $"{file}: '{id}' is spelled as a literal; use DeviceErrorIds.{ids[id]}: {m.Value}";
            }
        }

        foreach (Match m in XenstoreErrorNames().Matches(text))
        {
            string name = m.Groups["name"].Value;
            if (XenstoreErrorMapper.ToErrorId(name) == DeviceErrorIds.Xenstore.Error)
            {
                yield return $"{file}: xenstore error name {name} has no id of its own in XenstoreErrorMapper: {m.Value}";
            }
        }
    }

    /// <summary>
    /// Where an error id is passed as a literal: DeviceException's constructor (directly, or as a subclass's base),
    /// ErrorRecord's, a server's two socket ids.
    /// </summary>
    private static readonly Regex[] s_literalIdSites =
    [
        new("""new\s+DeviceException\s*\(\s*"(?<id>[^"]*)"\s*,"""),
        new(""":\s*base\s*\(\s*"(?<id>[^"]*)"\s*,"""),
        new("""new\s+ErrorRecord\s*\([^,()]*,\s*"(?<id>[^"]*)"\s*,"""),
        new("""SocketErrors\.Server\s*\(\s*"(?<id>[^"]*)"\s*,"""),
        new("""SocketErrors\.Server\s*\([^,()"]*,\s*"(?<id>[^"]*)"\s*,"""),
    ];

    [GeneratedRegex(""""new\s+XenstoreException\s*\(\s*"(?<name>[^"]*)"""")]
    private static partial Regex XenstoreErrorNames();

    /// <summary>A line of the help's id lists: <c>- Id, Id: what it means.</c></summary>
    [GeneratedRegex(@"^- (?<ids>[A-Z][A-Za-z0-9]+(?:, [A-Z][A-Za-z0-9]+)*):", RegexOptions.Multiline)]
    private static partial Regex HelpIdLines();

    private static IEnumerable<string> Files(string root, params string[] folders) =>
        folders.SelectMany(f => Directory.EnumerateFiles(Path.Combine(root, f), "*", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    /// <summary>The repository this test was built from (found from this file's own path).</summary>
    private static string Root([CallerFilePath] string self = "")
    {
        for (string? dir = Path.GetDirectoryName(self); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (Directory.Exists(Path.Combine(dir, "src", "VirtualDevices.Core")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException($"no repository above {self}");
    }
}
