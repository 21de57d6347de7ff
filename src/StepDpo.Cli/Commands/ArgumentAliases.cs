namespace StepDpo.Cli.Commands;

/// <summary>
/// Spellings the fixed command contracts use but Spectre.Console.Cli cannot declare: it rejects one-letter long
/// options, so `generate --n 4` is rewritten to the short form `-n 4` before parsing.
/// </summary>
public static class ArgumentAliases
{
    public static string[] Normalize(string[] args) => args.Select(a =>
        a == "--n" ? "-n" : a.StartsWith("--n=", StringComparison.Ordinal) ? "-n=" + a[4..] : a).ToArray();
}
