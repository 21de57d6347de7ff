using System.Globalization;
using System.Net.Http.Headers;

namespace StepDpo.Stages.Backends;

/// <summary>Waits between attempts: exponential backoff with full jitter (a uniform draw in [0, cap], the cap
/// doubling per retry), which spreads many clients that failed together; a server's Retry-After wins when given.</summary>
public sealed class Backoff(TimeSpan initial, TimeSpan max, TimeSpan maxRetryAfter, int? seed)
{
    readonly Random random = seed is { } s ? new Random(s) : Random.Shared;
    readonly Lock gate = new();

    /// <summary>Delay before attempt <paramref name="retry"/>+1, where <paramref name="retry"/> counts from 1.</summary>
    public TimeSpan Delay(int retry, TimeSpan? retryAfter)
    {
        if (retryAfter is { } ra) return ra < TimeSpan.Zero ? TimeSpan.Zero : ra > maxRetryAfter ? maxRetryAfter : ra;
        var cap = initial.TotalMilliseconds * System.Math.Pow(2, System.Math.Min(retry - 1, 30));
        cap = System.Math.Min(cap, max.TotalMilliseconds);
        double u;
        lock (gate) u = random.NextDouble();
        return TimeSpan.FromMilliseconds(u * cap);
    }

    /// <summary>Reads <c>retry-after-ms</c> (sent by OpenAI's own servers) or the standard Retry-After, in seconds or
    /// as an HTTP date.</summary>
    public static TimeSpan? RetryAfter(HttpResponseHeaders headers, DateTimeOffset now)
    {
        if (headers.TryGetValues("retry-after-ms", out var ms)
            && double.TryParse(ms.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var millis) && millis >= 0)
            return TimeSpan.FromMilliseconds(millis);
        if (headers.RetryAfter is { } ra)
        {
            if (ra.Delta is { } delta) return delta;
            if (ra.Date is { } date) return date - now;
        }
        return null;
    }
}
