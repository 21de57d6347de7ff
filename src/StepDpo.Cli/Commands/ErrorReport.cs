
namespace StepDpo.Cli.Commands;

/// <summary>Turns exceptions into one clear message. User errors (bad manifest, bad data line, bad
/// option) carry their own location in the message; anything else is a bug and says so.</summary>
public static class ErrorReport
{
    public static int Print(Exception ex)
    {
        while (ex is AggregateException { InnerExceptions.Count: 1 } agg) ex = agg.InnerExceptions[0];
        if (ex is Spectre.Console.Cli.CommandAppException or UserError or FileNotFoundException or DirectoryNotFoundException
            or InvalidDataException or FormatException or StepDpo.Core.StepDpoException)
        {
            Console.Error.WriteLine($"error: {StepDpo.Core.Secrets.Redact(ex.Message)}");
            return 2;
        }
        if (ex is OperationCanceledException) { Console.Error.WriteLine("cancelled"); return 130; }
        Console.Error.WriteLine($"internal error ({ex.GetType().Name}): {StepDpo.Core.Secrets.Redact(ex.Message)}");
        if (Environment.GetEnvironmentVariable("STEPDPO_DEBUG") == "1") Console.Error.WriteLine(StepDpo.Core.Secrets.Redact(ex.ToString()));
        else Console.Error.WriteLine("(set STEPDPO_DEBUG=1 for the stack trace)");
        return 1;
    }
}

/// <summary>An error caused by the user's input; its message says what and where.</summary>
public sealed class UserError(string message) : Exception(message);
