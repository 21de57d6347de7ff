// `dotnet stepdpo <command>`: every command is registered in Commands/Registry.cs.
using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Cli.Commands;

// Before the first tensor: malloc keeps freed memory, OpenMP threads sleep instead of spinning (Devices/CpuRuntime.cs).
StepDpo.Torch.Devices.CpuRuntime.Configure();
// Logs and CI capture output: use a wide layout there instead of Spectre's 80-column fallback.
if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;
var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("stepdpo");
    config.SetApplicationVersion(StepDpo.Cli.ToolInfo.Version);
    Registry.Register(config);
    // Bad input gets a one-line message and a non-zero exit, never a stack trace.
    config.SetExceptionHandler((ex, _) => ErrorReport.Print(ex));
});
return app.Run(ArgumentAliases.Normalize(args));
