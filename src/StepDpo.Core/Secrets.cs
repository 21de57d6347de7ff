namespace StepDpo.Core;

/// <summary>
/// Values that must never reach a log, stage.json, a resolved manifest or an error message: the Hub token
/// (HF_TOKEN, HUGGING_FACE_HUB_TOKEN) and the API keys named by the manifest's api_key_env keys (registered when a
/// manifest is loaded). Anything written from outside our control (a child process's output, a server's error
/// body) goes through <see cref="Redact"/>.
/// </summary>
public static class Secrets
{
    public const string Mask = "***";
    static readonly string[] HubTokenVariables = ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"];
    static readonly HashSet<string> Registered = new(StringComparer.Ordinal);

    /// <summary>The Hub token from the environment, or null.</summary>
    public static string? HubToken =>
        HubTokenVariables.Select(Environment.GetEnvironmentVariable).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v))?.Trim();

    /// <summary>Marks an environment variable as holding a secret (e.g. a judge's api_key_env).</summary>
    public static void Register(string? variable)
    {
        if (string.IsNullOrWhiteSpace(variable)) return;
        lock (Registered) Registered.Add(variable);
    }

    /// <summary>The secret values set now (shortest last, so a value inside another is masked after it).</summary>
    public static IReadOnlyList<string> Values()
    {
        string[] names;
        lock (Registered) names = [.. HubTokenVariables, .. Registered];
        return names.Select(Environment.GetEnvironmentVariable).Where(v => v is { Length: >= 4 }).Select(v => v!.Trim())
            .Distinct().OrderByDescending(v => v.Length).ToList();
    }

    public static string Redact(string text)
    {
        foreach (var secret in Values())
            if (text.Contains(secret, StringComparison.Ordinal)) text = text.Replace(secret, Mask, StringComparison.Ordinal);
        return text;
    }
}
