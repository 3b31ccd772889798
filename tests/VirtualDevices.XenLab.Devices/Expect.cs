namespace VirtualDevices.XenLab.Devices;

/// <summary>The checks' assertions: a failed one ends its check with its sentence.</summary>
internal static class Expect
{
    public static void True(bool condition, string what)
    {
        if (!condition)
        {
            throw new CheckFailedException($"expected {what}");
        }
    }

    public static T Throws<T>(Action action)
        where T : Exception
    {
        try
        {
            action();
        }
        catch (T e)
        {
            return e;
        }

        throw new CheckFailedException($"expected {typeof(T).Name}, nothing was thrown");
    }
}
