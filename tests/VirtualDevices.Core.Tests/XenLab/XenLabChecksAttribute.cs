using System.Reflection;
using Xunit.Sdk;

namespace VirtualDevices.Tests.XenLab;

/// <summary>
/// Theory data from the Xen lab's result file: with <c>skipped: false</c> the checks that passed or failed, with
/// <c>skipped: true</c> those the lab skipped (and, when the lab did not run at all, one row saying why). xunit 2 can
/// only skip a data row through its attribute's Skip, hence two attributes on the one theory; Skip is set in the
/// constructor, before xunit's discoverer reads it.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
internal sealed class XenLabChecksAttribute : DataAttribute
{
    private readonly bool _skipped;

    public XenLabChecksAttribute(bool skipped)
    {
        _skipped = skipped;
        if (skipped)
        {
            Skip = XenLabResults.SkipReason ?? "skipped inside the Xen lab (the row's message says why)";
        }
    }

    public override IEnumerable<object[]> GetData(MethodInfo testMethod)
    {
        if (XenLabResults.SkipReason is { } reason)
        {
            return _skipped ? [["lab", "skip", reason]] : [];
        }

        return XenLabResults.Read()
            .Where(c => (c.Status == "skip") == _skipped)
            .Select(c => new object[] { c.Name, c.Status, c.Message });
    }
}
