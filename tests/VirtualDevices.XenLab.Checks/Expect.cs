namespace VirtualDevices.XenLab.Checks;

/// <summary>The assertions the checks use; each failure says what was expected and what came.</summary>
internal static class Expect
{
    public static void True(bool condition, string what)
    {
        if (!condition)
        {
            throw new CheckFailedException(what);
        }
    }

    public static void Equal<T>(T expected, T actual, string what)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
        {
            throw new CheckFailedException($"{what}: expected '{expected}', got '{actual}'");
        }
    }

    public static void SequenceEqual<T>(IEnumerable<T> expected, IEnumerable<T> actual, string what)
    {
        T[] e = [.. expected], a = [.. actual];
        if (!e.SequenceEqual(a))
        {
            throw new CheckFailedException($"{what}: expected [{string.Join(",", e)}], got [{string.Join(",", a)}]");
        }
    }

    /// <summary>Runs <paramref name="action"/> and returns the <typeparamref name="TException"/> it must throw.</summary>
    public static async Task<TException> ThrowsAsync<TException>(Func<Task> action, string what) where TException : Exception
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (TException e)
        {
            return e;
        }

        throw new CheckFailedException($"{what}: expected {typeof(TException).Name}, nothing was thrown");
    }
}
