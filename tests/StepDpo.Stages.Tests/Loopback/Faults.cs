namespace StepDpo.Stages.Tests.Loopback;

public enum FaultKind
{
    None,
    /// <summary>HTTP 500 with an OpenAI-style error body.</summary>
    Http500,
    /// <summary>HTTP 429 with a retry-after-ms header.</summary>
    Http429,
    /// <summary>HTTP 400: a request the client must not retry.</summary>
    Http400,
    /// <summary>HTTP 401 whose message quotes the bearer token it refused (OpenAI quotes part of it).</summary>
    Http401QuotingKey,
    /// <summary>Answer only after <see cref="Fault.Delay"/>, past the client's timeout.</summary>
    Slow,
    /// <summary>Abort the connection before any response.</summary>
    Drop,
    /// <summary>Send headers and half of the body, then abort.</summary>
    DropMidBody,
    /// <summary>200 with a body that is not valid JSON.</summary>
    MalformedJson,
    /// <summary>200 with valid JSON but one choice fewer than asked.</summary>
    MissingChoice,
}

public sealed record Fault(FaultKind Kind, TimeSpan Delay = default, int RetryAfterMs = 0)
{
    public static readonly Fault None = new(FaultKind.None);
}

/// <summary>Which fault the server injects into its k-th call (k from 1, counted over the server's life).</summary>
public delegate Fault FaultSchedule(int call);

public static class FaultSchedules
{
    public static FaultSchedule Never => _ => Fault.None;

    /// <summary>The k-th call gets faults[k-1]; later calls succeed.</summary>
    public static FaultSchedule Sequence(params Fault[] faults) => call => call <= faults.Length ? faults[call - 1] : Fault.None;

    /// <summary>Every call fails with <paramref name="fault"/>.</summary>
    public static FaultSchedule Always(Fault fault) => _ => fault;

    /// <summary>Each call independently faulty with probability <paramref name="rate"/>, the kind drawn from
    /// <paramref name="kinds"/>; the draw depends only on the seed and the call number.</summary>
    public static FaultSchedule Random(int seed, double rate, params Fault[] kinds) => call =>
    {
        var random = new System.Random(HashCode.Combine(seed, call) & 0x7FFFFFFF);
        return random.NextDouble() < rate ? kinds[random.Next(kinds.Length)] : Fault.None;
    };
}
